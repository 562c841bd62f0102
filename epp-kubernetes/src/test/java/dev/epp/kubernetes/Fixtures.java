package dev.epp.kubernetes;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.dsl.base.CustomResourceDefinitionContext;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.awaitility.Awaitility;

/** Builders of pods and custom resources for the mock API server, and a bounded wait. */
public final class Fixtures {

  public static final String NS = "llm";
  public static final Duration DEADLINE = Duration.ofSeconds(30);

  private Fixtures() {}

  /** Lets the CRUD mock server serve the three custom resources. */
  public static void serveCustomResources(KubernetesMockServer server) {
    for (ResourceDefinitionContext c : List.of(
        Resources.INFERENCE_POOL, Resources.INFERENCE_OBJECTIVE, Resources.INFERENCE_MODEL_REWRITE)) {
      server.expectCustomResource(new CustomResourceDefinitionContext.Builder()
          .withGroup(c.getGroup())
          .withVersion(c.getVersion())
          .withKind(c.getKind())
          .withPlural(c.getPlural())
          .withScope("Namespaced")
          .build());
    }
  }

  /** A pod with {@code labels} ("k=v" pairs); ready with IP {@code ip} when {@code ready}. */
  public static Pod pod(String name, String ip, boolean ready, String... labels) {
    return new PodBuilder()
        .withMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).withLabels(map(labels)).build())
        .withNewSpec().addNewContainer().withName("vllm").withImage("vllm").endContainer().endSpec()
        .withNewStatus()
        .withPodIP(ip)
        .addNewCondition().withType("Ready").withStatus(ready ? "True" : "False").endCondition()
        .endStatus()
        .build();
  }

  /** An {@code InferencePool} selecting {@code selector} ("k=v" pairs) on {@code ports}. */
  public static GenericKubernetesResource pool(String name, List<Integer> ports, String... selector) {
    List<Map<String, Object>> targetPorts = new ArrayList<>();
    ports.forEach(p -> targetPorts.add(Map.of("number", p)));
    return resource(Resources.INFERENCE_POOL, name, null, Map.of(
        "selector", Map.of("matchLabels", map(selector)),
        "targetPorts", targetPorts));
  }

  /** A namespaced custom resource of kind {@code context} with {@code spec}. */
  public static GenericKubernetesResource resource(
      ResourceDefinitionContext context, String name, String created, Map<String, Object> spec) {
    GenericKubernetesResource resource = new GenericKubernetesResource();
    resource.setApiVersion(context.getGroup() + "/" + context.getVersion());
    resource.setKind(context.getKind());
    resource.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).withCreationTimestamp(created).build());
    resource.setAdditionalProperty("spec", spec);
    return resource;
  }

  public static Map<String, String> map(String... pairs) {
    Map<String, String> map = new LinkedHashMap<>();
    for (String pair : pairs) {
      int eq = pair.indexOf('=');
      map.put(pair.substring(0, eq), pair.substring(eq + 1));
    }
    return map;
  }

  /** Waits until {@code actual} equals {@code expected}, failing after {@link #DEADLINE}. */
  public static <T> void await(T expected, Supplier<T> actual) {
    Awaitility.await().atMost(DEADLINE).pollInterval(Duration.ofMillis(10))
        .untilAsserted(() -> assertEquals(expected, actual.get()));
  }
}
