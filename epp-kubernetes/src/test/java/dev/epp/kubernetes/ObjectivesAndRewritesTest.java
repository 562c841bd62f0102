package dev.epp.kubernetes;

import static dev.epp.kubernetes.Fixtures.NS;
import static dev.epp.kubernetes.Fixtures.await;
import static dev.epp.kubernetes.Fixtures.resource;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.epp.api.Endpoint;
import dev.epp.api.InferenceException;
import dev.epp.api.MetricsRecorder;
import dev.epp.api.requestcontrol.ModelRewrites;
import dev.epp.scheduler.Director;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.scheduler.EndpointPool;
import dev.epp.scheduler.Routing;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntUnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** InferenceObjective priorities and InferenceModelRewrite rules, and the director applying them to requests. */
class ObjectivesAndRewritesTest {

  private static final PoolRef POOL = PoolRef.of(NS, "pool");

  private final MockApiServer api = new MockApiServer();
  private final KubernetesClient client = api.client;
  private final List<AutoCloseable> started = new ArrayList<>();

  @AfterEach
  void tearDown() throws Exception {
    for (AutoCloseable c : started) {
      c.close();
    }
    api.close();
  }

  private KubernetesObjectives objectives() {
    KubernetesObjectives objectives = KubernetesObjectives.start(client, POOL);
    started.add(objectives);
    return objectives;
  }

  private KubernetesModelRewrites rewrites(AtomicInteger random) {
    KubernetesModelRewrites rewrites = KubernetesModelRewrites.start(client, POOL, bound -> random.get() % bound);
    started.add(rewrites);
    return rewrites;
  }

  /** The model {@code rewrites} sends a request for {@code model} to, or null. */
  private static String target(ModelRewrites rewrites, String model) {
    ModelRewrites.Rewrite rewrite = rewrites.rewrite(model);
    return rewrite == null ? null : rewrite.targetModel();
  }

  private static GenericKubernetesResource objective(String name, Integer priority, String pool, String group) {
    Map<String, Object> poolRef = new HashMap<>(Map.of("name", pool));
    if (group != null) {
      poolRef.put("group", group);
    }
    Map<String, Object> spec = new HashMap<>(Map.of("poolRef", poolRef));
    if (priority != null) {
      spec.put("priority", priority);
    }
    return resource(Resources.INFERENCE_OBJECTIVE, name, null, spec);
  }

  private void create(GenericKubernetesResource resource) {
    client.genericKubernetesResources(
        resource.getKind().equals("InferenceObjective") ? Resources.INFERENCE_OBJECTIVE
            : Resources.INFERENCE_MODEL_REWRITE).inNamespace(NS).resource(resource).create();
  }

  /** A rewrite with one rule: {@code matches} (null: generic) to {@code targets} ("model:weight"). */
  private static GenericKubernetesResource rewrite(String name, String created, List<String> matches, String... targets) {
    List<Map<String, Object>> targetList = new ArrayList<>();
    for (String target : targets) {
      int colon = target.indexOf(':');
      targetList.add(Map.of("modelRewrite", target.substring(0, colon),
          "weight", Integer.parseInt(target.substring(colon + 1))));
    }
    Map<String, Object> rule = new HashMap<>(Map.of("targets", targetList));
    if (matches != null) {
      List<Map<String, Object>> matchList = new ArrayList<>();
      matches.forEach(m -> matchList.add(Map.of("model", Map.of("type", "Exact", "value", m))));
      rule.put("matches", matchList);
    }
    return resource(Resources.INFERENCE_MODEL_REWRITE, name, created,
        Map.of("poolRef", Map.of("name", "pool"), "rules", List.of(rule)));
  }

  @Test
  void prioritiesComeFromObjectivesOfThisPoolOnly() {
    create(objective("critical", 2, "pool", null));
    create(objective("batch", -1, "pool", PoolRef.DEFAULT_GROUP));
    create(objective("no-priority", null, "pool", null));
    create(objective("other-pool", 5, "other", null));
    create(objective("other-group", 5, "pool", "example.com"));
    KubernetesObjectives objectives = objectives();

    assertEquals(2, objectives.priority("critical"));
    assertEquals(-1, objectives.priority("batch"));
    assertEquals(0, objectives.priority("no-priority"));
    assertEquals(0, objectives.priority("other-pool"));
    assertEquals(0, objectives.priority("other-group"));
    assertEquals(0, objectives.priority("missing"));

    client.genericKubernetesResources(Resources.INFERENCE_OBJECTIVE).inNamespace(NS).withName("critical")
        .edit(o -> objective("critical", 7, "pool", null));
    await(7, () -> objectives.priority("critical"));
    client.genericKubernetesResources(Resources.INFERENCE_OBJECTIVE).inNamespace(NS).withName("critical").delete();
    await(0, () -> objectives.priority("critical"));
  }

  @Test
  void exactRulesWinOverGenericOnesAndTheOldestWins() {
    // The mock server stamps every object with the current second, so the ages are set here, off the server.
    KubernetesModelRewrites.Index index = KubernetesModelRewrites.index(List.of(
        rewrite("generic-new", "2025-03-01T00:00:00Z", null, "generic-b:1"),
        rewrite("generic-old", "2025-01-01T00:00:00Z", null, "generic-a:1"),
        rewrite("exact-new", "2025-02-01T00:00:00Z", List.of("llama"), "llama-new:1"),
        rewrite("exact-old", "2025-01-15T00:00:00Z", List.of("llama", "qwen"), "llama-old:1")), POOL);
    IntUnaryOperator random = bound -> 0;

    assertEquals("llama-old", KubernetesModelRewrites.choose(index.rule("llama"), random));
    assertEquals("llama-old", KubernetesModelRewrites.choose(index.rule("qwen"), random));
    assertEquals("generic-a", KubernetesModelRewrites.choose(index.rule("mistral"), random));
  }

  @Test
  void rulesFollowTheRewritesOnTheServer() {
    create(rewrite("generic", null, null, "fallback:1"));
    create(rewrite("exact", null, List.of("llama"), "llama-lora:1"));
    KubernetesModelRewrites rewrites = rewrites(new AtomicInteger());
    assertEquals(new ModelRewrites.Rewrite("exact", "llama-lora"), rewrites.rewrite("llama"));
    assertEquals(new ModelRewrites.Rewrite("generic", "fallback"), rewrites.rewrite("qwen"));

    var resources = client.genericKubernetesResources(Resources.INFERENCE_MODEL_REWRITE).inNamespace(NS);
    resources.withName("exact").edit(r -> rewrite("exact", null, List.of("llama"), "llama-v2:1"));
    await("llama-v2", () -> target(rewrites, "llama"));
    resources.withName("exact").delete();
    await("fallback", () -> target(rewrites, "llama"));
    resources.withName("generic").delete();
    await(null, () -> target(rewrites, "llama"));
  }

  @Test
  void targetsAreChosenByWeightAndUniformlyWhenAllWeightsAreZero() {
    AtomicInteger random = new AtomicInteger();
    create(rewrite("weighted", null, List.of("m"), "a:1", "b:3"));
    create(rewrite("uniform", null, List.of("u"), "x:0", "y:0", "z:0"));
    KubernetesModelRewrites rewrites = rewrites(random);

    List<String> chosen = new ArrayList<>();
    for (int r = 0; r < 4; r++) {
      random.set(r);
      chosen.add(target(rewrites, "m"));
    }
    assertEquals(List.of("a", "b", "b", "b"), chosen);
    chosen.clear();
    for (int r = 0; r < 3; r++) {
      random.set(r);
      chosen.add(target(rewrites, "u"));
    }
    assertEquals(List.of("x", "y", "z"), chosen);
    assertNull(target(rewrites, "other"));
  }

  @Test
  void rewritesOfOtherPoolsAreIgnored() {
    GenericKubernetesResource other = rewrite("other", null, null, "elsewhere:1");
    other.setAdditionalProperty("spec", Map.of("poolRef", Map.of("name", "other-pool"), "rules",
        ((Map<?, ?>) other.getAdditionalProperties().get("spec")).get("rules")));
    create(other);
    assertNull(target(rewrites(new AtomicInteger()), "llama"));
  }

  @Test
  void theDirectorAppliesObjectivesAndRewritesToRequests() {
    create(objective("sheddable", -1, "pool", null));
    create(objective("critical", 3, "pool", null));
    create(rewrite("to-lora", null, List.of("base"), "base-lora:1"));
    EndpointPool pool = new EndpointPool();
    pool.upsert(Endpoint.of("a-rank-0", "10.0.0.1", 8000));
    List<String> decisions = new ArrayList<>();
    MetricsRecorder metrics = new MetricsRecorder() {
      @Override
      public void recordModelRewrite(String rule, String model, String targetModel) {
        decisions.add(rule + ": " + model + " -> " + targetModel);
      }
    };
    Director director = Director.builder(EndpointPickerConfig.loader().metrics(metrics).defaults(), pool)
        .objectives(objectives())
        .modelRewrites(rewrites(new AtomicInteger()))
        .build();

    byte[] body = "{\"model\":\"base\",\"prompt\":\"hi\"}".getBytes(StandardCharsets.UTF_8);
    Routing routing = director.route(Map.of(Director.OBJECTIVE_HEADER, "critical"), body, null);
    assertEquals(3, routing.context().request().priority());
    assertEquals("base", routing.context().request().incomingModel());
    assertEquals("base-lora", routing.context().request().targetModel());
    assertEquals("{\"model\":\"base-lora\",\"prompt\":\"hi\"}", new String(routing.body(), StandardCharsets.UTF_8));
    assertEquals("10.0.0.1:8000", routing.destination());
    assertEquals(List.of("to-lora: base -> base-lora"), decisions, "the decision is counted under the rule's name");

    // The pod has no metrics yet, so the pool counts as saturated: a sheddable request (priority < 0) is dropped.
    InferenceException shed = assertThrows(InferenceException.class,
        () -> director.route(Map.of(Director.OBJECTIVE_HEADER, "sheddable"), body, null));
    assertEquals(InferenceException.Code.RESOURCE_EXHAUSTED, shed.code());
  }
}
