package dev.epp.kubernetes;

import java.util.Objects;

/**
 * The {@code InferencePool} an EPP serves: what {@code --pool-name}, {@code --pool-namespace} and
 * {@code --pool-group} name. {@code InferenceObjective}s and {@code InferenceModelRewrite}s apply to this EPP when
 * their {@code spec.poolRef} names this pool and group.
 *
 * @param namespace the pool's namespace, where its pods, objectives and rewrites live
 * @param name the pool's name
 * @param group the API group a {@code poolRef} must name; {@link #DEFAULT_GROUP} unless {@code --pool-group} says
 *     otherwise. The pool itself is always read as {@code inference.networking.k8s.io/v1}, as in the Go EPP v1.5.
 */
public record PoolRef(String namespace, String name, String group) {

  /** The default of {@code --pool-group}, and the group of an {@code InferencePool}. */
  public static final String DEFAULT_GROUP = "inference.networking.k8s.io";

  /** Validates the components. */
  public PoolRef {
    requireNonBlank(namespace, "namespace");
    requireNonBlank(name, "name");
    requireNonBlank(group, "group");
  }

  /** A pool of the default group. */
  public static PoolRef of(String namespace, String name) {
    return new PoolRef(namespace, name, DEFAULT_GROUP);
  }

  /**
   * The namespace {@code --pool-namespace} designates, as in the Go EPP: the flag's value if not empty, else the
   * environment variable {@code NAMESPACE} if not empty, else {@code default}.
   *
   * @param flag the flag's value; may be {@code null}
   */
  public static String resolveNamespace(String flag) {
    if (flag != null && !flag.isBlank()) {
      return flag;
    }
    String env = System.getenv("NAMESPACE");
    return env != null && !env.isBlank() ? env : "default";
  }

  @Override
  public String toString() {
    return namespace + "/" + name;
  }

  private static void requireNonBlank(String value, String what) {
    Objects.requireNonNull(value, what);
    if (value.isBlank()) {
      throw new IllegalArgumentException("pool " + what + " must not be blank");
    }
  }
}
