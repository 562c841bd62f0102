package dev.epp.kubernetes;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The custom resources this module reads, and helpers to read their untyped fields. */
final class Resources {

  static final String X_GROUP = "inference.networking.x-k8s.io";

  /** {@code inference.networking.k8s.io/v1 InferencePool}. */
  static final ResourceDefinitionContext INFERENCE_POOL =
      context(PoolRef.DEFAULT_GROUP, "v1", "InferencePool", "inferencepools");

  /** {@code inference.networking.x-k8s.io/v1alpha2 InferenceObjective}. */
  static final ResourceDefinitionContext INFERENCE_OBJECTIVE =
      context(X_GROUP, "v1alpha2", "InferenceObjective", "inferenceobjectives");

  /** {@code inference.networking.x-k8s.io/v1alpha2 InferenceModelRewrite}. */
  static final ResourceDefinitionContext INFERENCE_MODEL_REWRITE =
      context(X_GROUP, "v1alpha2", "InferenceModelRewrite", "inferencemodelrewrites");

  private Resources() {}

  private static ResourceDefinitionContext context(String group, String version, String kind, String plural) {
    return new ResourceDefinitionContext.Builder()
        .withGroup(group)
        .withVersion(version)
        .withKind(kind)
        .withPlural(plural)
        .withNamespaced(true)
        .build();
  }

  /** The value at {@code path} under the resource's top-level fields (e.g. {@code "spec", "poolRef"}), or null. */
  static Object field(GenericKubernetesResource resource, String... path) {
    Object value = resource.getAdditionalProperties();
    for (String key : path) {
      value = value instanceof Map<?, ?> map ? map.get(key) : null;
    }
    return value;
  }

  /** The value of {@code key} in {@code map} if {@code map} is a map, else null. */
  static Object field(Object map, String key) {
    return map instanceof Map<?, ?> m ? m.get(key) : null;
  }

  /** {@code value} as a list, empty if it is not one. */
  static List<?> list(Object value) {
    return value instanceof List<?> list ? list : List.of();
  }

  /** {@code value} as a string-to-string map (non-string values become strings), empty if it is not a map. */
  static Map<String, String> stringMap(Object value) {
    Map<String, String> result = new LinkedHashMap<>();
    if (value instanceof Map<?, ?> map) {
      map.forEach((k, v) -> {
        if (k != null && v != null) {
          result.put(k.toString(), v.toString());
        }
      });
    }
    return result;
  }

  /** {@code value} as an int if it is a whole number, else {@code fallback}. */
  static int intValue(Object value, int fallback) {
    if (value instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue())) {
      return n.intValue();
    }
    return fallback;
  }

  /** Whether the resource is not being deleted. */
  static boolean live(GenericKubernetesResource resource) {
    return resource.getMetadata() == null || resource.getMetadata().getDeletionTimestamp() == null;
  }

  /**
   * Whether {@code spec.poolRef} names {@code pool}: same name and group, an absent group meaning the CRD's default
   * {@code inference.networking.k8s.io}. The kind is not compared, as in the Go EPP.
   */
  static boolean refersTo(GenericKubernetesResource resource, PoolRef pool) {
    Object ref = field(resource, "spec", "poolRef");
    Object name = field(ref, "name");
    Object group = field(ref, "group");
    String refGroup = group == null || group.toString().isEmpty() ? PoolRef.DEFAULT_GROUP : group.toString();
    return pool.name().equals(name) && pool.group().equals(refGroup);
  }
}
