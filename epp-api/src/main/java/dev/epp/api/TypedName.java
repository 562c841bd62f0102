package dev.epp.api;

import java.util.Objects;

/**
 * A plugin's type and instance name. {@link #toString()} renders {@code name/type}, as the Go EPP does.
 *
 * @param type the plugin type, e.g. {@code queue-scorer}
 * @param name the instance name; defaults to the type in configuration files
 */
public record TypedName(String type, String name) {

  /** Validates that both parts are non-blank. */
  public TypedName {
    Objects.requireNonNull(type, "type");
    Objects.requireNonNull(name, "name");
    if (type.isBlank() || name.isBlank()) {
      throw new IllegalArgumentException("plugin type and name must not be blank");
    }
  }

  /** A name equal to the type, for plugins configured without an explicit name. */
  public static TypedName of(String type) {
    return new TypedName(type, type);
  }

  @Override
  public String toString() {
    return name + "/" + type;
  }
}
