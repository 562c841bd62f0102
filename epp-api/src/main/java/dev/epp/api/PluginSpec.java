package dev.epp.api;

import java.util.Objects;

/**
 * One plugin entry of a configuration: instance name, type and parameters.
 *
 * @param name the instance name, unique within the configuration
 * @param type the plugin type
 * @param parameters the entry's {@code parameters} object (empty when absent)
 */
public record PluginSpec(String name, String type, Parameters parameters) {

  /** Validates the components. */
  public PluginSpec {
    Objects.requireNonNull(parameters, "parameters");
    new TypedName(type, name); // validates
  }

  /** A spec with no parameters whose name is its type. */
  public static PluginSpec of(String type) {
    return new PluginSpec(type, type, Parameters.empty());
  }

  /** The spec's type and name. */
  public TypedName typedName() {
    return new TypedName(type, name);
  }
}
