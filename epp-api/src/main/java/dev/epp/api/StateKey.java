package dev.epp.api;

import java.util.Objects;

/**
 * A typed key for values plugins keep in a {@link RequestContext}, for example data a producer computes before
 * scheduling for a scorer or a pre-request hook to read. Keys compare by identity: declare each one once as a
 * constant.
 *
 * @param <T> the type of the value stored under this key
 */
public final class StateKey<T> {

  private final String name;
  private final Class<T> type;

  private StateKey(String name, Class<T> type) {
    this.name = Objects.requireNonNull(name, "name");
    this.type = Objects.requireNonNull(type, "type");
  }

  /** A new key; {@code name} is for diagnostics only. */
  public static <T> StateKey<T> of(String name, Class<T> type) {
    return new StateKey<>(name, type);
  }

  /** The key's diagnostic name. */
  public String name() {
    return name;
  }

  /** The type of the values stored under this key. */
  public Class<T> type() {
    return type;
  }

  @Override
  public String toString() {
    return name + ":" + type.getSimpleName();
  }
}
