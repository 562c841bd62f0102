package dev.epp.scheduler;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.InferenceException;
import dev.epp.api.InferenceRequest;
import dev.epp.api.InferenceException.Code;
import dev.epp.api.MetricsRecorder;
import dev.epp.api.RequestContext;
import dev.epp.api.TypedName;
import dev.epp.api.requestcontrol.Admission;
import dev.epp.api.requestcontrol.InferenceResponse;
import dev.epp.api.requestcontrol.ModelRewrites;
import dev.epp.api.requestcontrol.Objectives;
import dev.epp.api.requestcontrol.PrepareData;
import dev.epp.api.requestcontrol.ResponseBody;
import dev.epp.api.requestcontrol.ResponseHeader;
import dev.epp.api.requestcontrol.Usage;
import dev.epp.api.scheduling.Candidates;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** The request director: the Go EPP's hermetic scenarios that do not need Envoy, and the response hooks. */
class DirectorTest {

  private static final String HEADER =
      "apiVersion: inference.networking.x-k8s.io/v1alpha1\nkind: EndpointPickerConfig\n";
  private static final String HERMETIC_CONFIG = HEADER + """
      plugins:
      - type: queue-scorer
      - type: kv-cache-utilization-scorer
      - type: lora-affinity-scorer
      - type: openai-parser
      schedulingProfiles:
      - name: default
        plugins:
        - pluginRef: queue-scorer
        - pluginRef: kv-cache-utilization-scorer
        - pluginRef: lora-affinity-scorer
      parser:
        pluginRef: openai-parser
      """;
  private static final Objectives OBJECTIVES =
      Objectives.of(Map.of("sql-lora", 2, "sql-lora-sheddable", -1, "my-model", 2));

  private final PluginRegistry registry = TestPlugins.registry();
  private final EndpointPool pool = new EndpointPool();

  private void pod(int idx, int queue, double kv, String... adapters) {
    String name = "pod-" + idx + "-rank-0";
    pool.upsert(Endpoint.of(name, "192.168.1." + (idx + 1), 8000));
    pool.updateMetrics(name, EndpointMetrics.builder().waitingQueueSize(queue).kvCacheUsage(kv)
        .activeModels(Set.of(adapters)).updatedNanos(System.nanoTime()).build());
  }

  private Director director(String yaml) {
    return Director.builder(EndpointPickerConfig.loader().registry(registry).parse(yaml, "test.yaml"), pool)
        .objectives(OBJECTIVES)
        .build();
  }

  private static Map<String, String> headers(String objective, String rewrite) {
    Map<String, String> headers = new java.util.HashMap<>(Map.of(":path", "/v1/completions", "hi", "mom"));
    if (objective != null) {
      headers.put(Director.OBJECTIVE_HEADER, objective);
    }
    if (rewrite != null) {
      headers.put(Director.MODEL_REWRITE_HEADER, rewrite);
    }
    return headers;
  }

  private static byte[] completion(String model, String prompt) {
    return ("{\"max_tokens\":100,\"model\":\"" + model + "\",\"prompt\":\"" + prompt + "\",\"temperature\":0}")
        .getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void routesAndRewritesTheModel() {
    pod(0, 3, 0.2);
    pod(1, 0, 0.1);
    pod(2, 10, 0.2);
    Routing routing = director(HERMETIC_CONFIG)
        .route(headers("my-model", "my-model-12345"), completion("my-model", "test1"), null);
    assertEquals("192.168.1.2:8000", routing.destination());
    assertEquals("my-model", routing.context().request().incomingModel());
    assertEquals("my-model-12345", routing.context().request().targetModel());
    assertEquals(2, routing.context().request().priority());
    assertTrue(routing.bodyChanged());
    assertEquals("{\"max_tokens\":100,\"model\":\"my-model-12345\",\"prompt\":\"test1\",\"temperature\":0}",
        new String(routing.body(), StandardCharsets.UTF_8));
    assertFalse(routing.context().request().requestId().isEmpty());
  }

  @Test
  void controlHeadersAreReadUnderTheirGatewayNamesAndTheLlmdNameWinsWhenBothAreSent() {
    pod(0, 0, 0.1);
    Director director = director(HERMETIC_CONFIG);
    Map<String, String> gateway = new java.util.HashMap<>(Map.of(":path", "/v1/completions",
        Director.GATEWAY_OBJECTIVE_HEADER, "my-model", Director.GATEWAY_MODEL_REWRITE_HEADER, "gateway-target"));
    InferenceRequest viaGateway = director.route(gateway, completion("m", "p"), null).context().request();
    assertEquals(2, viaGateway.priority());
    assertEquals("gateway-target", viaGateway.targetModel());

    Map<String, String> both = new java.util.HashMap<>(gateway);
    both.put(Director.OBJECTIVE_HEADER, "objective-without-priority");
    both.put(Director.MODEL_REWRITE_HEADER, "llmd-target");
    InferenceRequest viaBoth = director.route(both, completion("m", "p"), null).context().request();
    assertEquals(0, viaBoth.priority());
    assertEquals("llmd-target", viaBoth.targetModel());
  }

  @Test
  void endpointsWithStaleOrNoMetricsAreNotCandidatesWhileAFreshOneExists() {
    long[] now = {10_000_000_000L};
    long threshold = EndpointMetrics.DEFAULT_STALENESS_THRESHOLD.toNanos();
    Director director = Director.builder(
            EndpointPickerConfig.loader().registry(registry).parse(HERMETIC_CONFIG, "test.yaml"), pool)
        .ticker(() -> now[0])
        .build();
    pool.upsert(Endpoint.of("idle-but-stale", "10.0.0.1", 8000));
    pool.updateMetrics("idle-but-stale", EndpointMetrics.builder().updatedNanos(now[0] - threshold - 1).build());
    pool.upsert(Endpoint.of("never-scraped", "10.0.0.2", 8000));
    pool.upsert(Endpoint.of("busy-and-fresh", "10.0.0.3", 8000));
    pool.updateMetrics("busy-and-fresh",
        EndpointMetrics.builder().waitingQueueSize(50).kvCacheUsage(0.9).updatedNanos(now[0] - threshold).build());

    for (int i = 0; i < 20; i++) {
      assertEquals("10.0.0.3:8000", director.route(headers(null, null), completion("m", "p" + i), null).destination());
      assertEquals("10.0.0.3:8000", director.routeHeaderOnly(Map.of()).destination());
    }
    assertEquals("10.0.0.3:8000", director.route(headers(null, null), completion("m", "p"),
        List.of("10.0.0.1:8000", "10.0.0.3:8000")).destination(), "a subset hint narrows to its fresh endpoints");
    assertEquals("10.0.0.1:8000", director.route(headers(null, null), completion("m", "p"),
        List.of("10.0.0.1:8000")).destination(), "a subset with no fresh endpoint keeps its stale one");

    now[0] += 1; // the busy endpoint is stale too: with nothing fresh, every endpoint is a candidate again
    Set<String> destinations = new HashSet<>();
    for (int i = 0; i < 50; i++) {
      destinations.add(director.route(headers(null, null), completion("m", "p" + i), null).destination());
    }
    assertEquals(Set.of("10.0.0.1:8000", "10.0.0.2:8000"), destinations, "the idle endpoints win again");
  }

  @Test
  void aRequestWithoutIdGetsADistinctRandomUuid() {
    pod(1, 0, 0.1);
    Director director = director(HERMETIC_CONFIG);
    Set<String> ids = new HashSet<>();
    for (int i = 0; i < 1000; i++) {
      String id = director.route(Map.of(), completion("my-model", "p"), null).context().request().requestId();
      UUID uuid = UUID.fromString(id);
      assertEquals(4, uuid.version(), id);
      assertEquals(2, uuid.variant(), id);
      assertEquals(uuid.toString(), id);
      ids.add(id);
    }
    assertEquals(1000, ids.size());
  }

  @Test
  void modelRewriteRulesOverrideTheRewriteHeaderAndAreCounted() {
    pod(0, 0, 0);
    List<String> decisions = new ArrayList<>();
    MetricsRecorder metrics = new MetricsRecorder() {
      @Override
      public void recordModelRewrite(String rule, String model, String targetModel) {
        decisions.add(rule + ": " + model + " -> " + targetModel);
      }
    };
    Director director = Director.builder(
            EndpointPickerConfig.loader().registry(registry).metrics(metrics).parse(HERMETIC_CONFIG, "test.yaml"),
            pool)
        .modelRewrites(model -> model.equals("model-to-be-rewritten")
            ? new ModelRewrites.Rewrite("rewrite-test", "rewritten-model") : null)
        .build();
    Routing ruled = director.route(headers(null, "from-header"), completion("model-to-be-rewritten", "p"), null);
    assertEquals("rewritten-model", ruled.context().request().targetModel());
    assertTrue(new String(ruled.body(), StandardCharsets.UTF_8).contains("\"model\":\"rewritten-model\""));
    Routing header = director.route(headers(null, "from-header"), completion("other", "p"), null);
    assertEquals("from-header", header.context().request().targetModel());
    assertEquals(List.of("rewrite-test: model-to-be-rewritten -> rewritten-model"), decisions,
        "a rule's decision is counted; the header's is not");
  }

  @Test
  void servedModelNameIsPutBackInResponses() {
    pod(0, 0, 0);
    Director director = director(HERMETIC_CONFIG);
    Routing rewritten = director.route(headers("my-model", "my-model-12345"), completion("my-model", "p"), null);
    byte[] response = "{\"model\":\"my-model-12345\",\"x\":1} data: {\"model\": \"my-model-12345\"}"
        .getBytes(StandardCharsets.UTF_8);
    assertEquals("{\"model\":\"my-model\",\"x\":1} data: {\"model\": \"my-model\"}",
        new String(director.restoreModelName(rewritten, response), StandardCharsets.UTF_8));
    Routing plain = director.route(headers("my-model", null), completion("my-model", "p"), null);
    assertSame(response, director.restoreModelName(plain, response));
  }

  @Test
  void keepsTheBodyWhenNothingIsRewritten() {
    pod(0, 0, 0);
    byte[] body = completion("m", "p");
    Routing routing = director(HERMETIC_CONFIG).route(Map.of("x-request-id", "id-1"), body, null);
    assertSame(body, routing.body());
    assertFalse(routing.bodyChanged());
    assertEquals("id-1", routing.context().request().requestId());
  }

  @Test
  void doesNotShedNonSheddableRequestsButShedsSheddableOnesUnderSaturation() {
    pod(0, 6, 0.2, "sql-lora-1fdg2");
    pod(1, 0, 0.85);
    pod(2, 10, 0.9);
    Director director = director(HERMETIC_CONFIG);
    Routing routing = director.route(headers("sql-lora", "sql-lora-1fdg2"), completion("sql-lora", "test4"), null);
    assertEquals("192.168.1.1:8000", routing.destination());
    InferenceException shed = assertThrows(InferenceException.class,
        () -> director.route(headers("sql-lora-sheddable", null), completion("sql-lora-sheddable", "x"), null));
    assertEquals(Code.RESOURCE_EXHAUSTED, shed.code());
    assertEquals("system saturated, sheddable request dropped", shed.getMessage());
  }

  @Test
  void decisionLogRecordsSampledDecisionsNewestFirstWithTheirExplanationOrError() {
    pod(0, 6, 0.2, "sql-lora-1fdg2");
    pod(1, 0, 0.85);
    pod(2, 10, 0.9);
    DecisionLog log = DecisionLog.create(2, Duration.ZERO);
    Director director = Director.builder(
        EndpointPickerConfig.loader().registry(registry).parse(HERMETIC_CONFIG, "test.yaml"), pool)
        .objectives(OBJECTIVES).decisionLog(log).build();
    Routing first = director.route(headers("my-model", null), completion("my-model", "a"), null);
    assertTrue(first.explanation().isPresent(), "a sampled request is explained");
    director.route(headers("sql-lora", "sql-lora-1fdg2"), completion("sql-lora", "b"), null);
    assertThrows(InferenceException.class,
        () -> director.route(headers("sql-lora-sheddable", null), completion("sql-lora-sheddable", "x"), null));

    List<DecisionLog.Decision> recent = log.recent();
    assertEquals(2, recent.size(), "the oldest decision was overwritten");
    DecisionLog.Decision failed = recent.get(0);
    assertEquals("sql-lora-sheddable", failed.model());
    assertEquals(Code.RESOURCE_EXHAUSTED.wireName(), failed.errorCode());
    assertEquals("system saturated, sheddable request dropped", failed.errorMessage());
    assertEquals(List.of(), failed.targets());
    DecisionLog.Decision routed = recent.get(1);
    assertEquals("sql-lora", routed.model());
    assertEquals("sql-lora-1fdg2", routed.targetModel());
    assertEquals(List.of("pod-0-rank-0"), routed.targets());
    assertNull(routed.errorCode());
    Explanation.ProfileRun run = routed.explanation().profiles().get(0);
    assertEquals(List.of("pod-0-rank-0"), run.pick().picked());
    assertEquals(3, run.pick().totals().size());
    assertEquals("192.168.1.1:8000", routed.explanation().addresses().get("pod-0-rank-0"));
  }

  @Test
  void decisionLogSamplesAtMostOneRequestPerInterval() {
    pod(0, 0, 0.1);
    DecisionLog log = DecisionLog.create(10, Duration.ofHours(1));
    Director director = Director.builder(
        EndpointPickerConfig.loader().registry(registry).parse(HERMETIC_CONFIG, "test.yaml"), pool)
        .decisionLog(log).build();
    List<Boolean> explained = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      explained.add(director.route(headers(null, null), completion("m", "p" + i), null).explanation().isPresent());
    }
    assertEquals(List.of(true, false, false), explained);
    assertEquals(1, log.recent().size());
  }

  @Test
  void objectivesCanComeFromTheConfiguration() {
    pod(0, 9, 0.9);
    Director director = Director.builder(EndpointPickerConfig.loader().registry(registry).parse(HEADER + """
            plugins:
            - type: queue-scorer
            - type: static-objectives
              parameters:
                objectives: {interactive: 5, batch: -1}
            """, "test.yaml"), pool).build();
    assertEquals(5, director.route(headers("interactive", null), completion("m", "p"), null)
        .context().request().priority());
    assertEquals(0, director.route(headers("unknown", null), completion("m", "p"), null)
        .context().request().priority());
    assertEquals(Code.RESOURCE_EXHAUSTED, assertThrows(InferenceException.class,
        () -> director.route(headers("batch", null), completion("m", "p"), null)).code());
  }

  @Test
  void sheddableRequestsPassWhenThePoolIsNotSaturated() {
    pod(0, 0, 0.1);
    pod(1, 1, 0.2);
    Routing routing = director(HERMETIC_CONFIG)
        .route(headers("sql-lora-sheddable", null), completion("sql-lora-sheddable", "x"), null);
    assertEquals(-1, routing.context().request().priority());
    assertEquals("192.168.1.1:8000", routing.destination());
  }

  @Test
  void subsetHintRestrictsCandidates() {
    pod(0, 0, 0.2, "foo", "bar");
    pod(1, 0, 0.1, "foo", "sql-lora-1fdg2");
    pod(2, 10, 0.2, "foo");
    Director director = director(HERMETIC_CONFIG);
    byte[] body = completion("sql-lora", "test2");
    Map<String, String> headers = headers("sql-lora", "sql-lora-1fdg2");
    assertEquals("192.168.1.2:8000",
        director.route(headers, body, List.of("192.168.1.1:8000", "192.168.1.2:8000", "192.168.1.3:8000"))
            .destination());
    assertEquals("192.168.1.3:8000", director.route(headers, body, List.of("192.168.1.3:8000")).destination());
    InferenceException none =
        assertThrows(InferenceException.class, () -> director.route(headers, body, List.of("192.168.1.99:8000")));
    assertEquals(Code.SERVICE_UNAVAILABLE, none.code());
    assertEquals("failed to find endpoint candidates for serving the request", none.getMessage());
    assertEquals(Code.SERVICE_UNAVAILABLE,
        assertThrows(InferenceException.class, () -> director.route(headers, body, List.of())).code());
  }

  @Test
  void badBodiesAndEmptyPools() {
    Director director = director(HERMETIC_CONFIG);
    pod(0, 0, 0);
    InferenceException noModel = assertThrows(InferenceException.class,
        () -> director.route(Map.of(), "{\"prompt\":\"hello world\"}".getBytes(StandardCharsets.UTF_8), null));
    assertEquals(Code.BAD_REQUEST, noModel.code());
    assertEquals("model not found in request body", noModel.getMessage());
    InferenceException invalid = assertThrows(InferenceException.class,
        () -> director.route(Map.of(), "no healthy upstream".getBytes(StandardCharsets.UTF_8), null));
    assertEquals(Code.BAD_REQUEST, invalid.code());
    pool.remove("pod-0-rank-0");
    assertEquals(Code.SERVICE_UNAVAILABLE, assertThrows(InferenceException.class,
        () -> director.route(Map.of(), completion("m", "p"), null)).code());
    InferenceException headerOnly =
        assertThrows(InferenceException.class, () -> director.routeHeaderOnly(Map.of()));
    assertEquals(Code.INTERNAL, headerOnly.code());
    assertEquals("no pods available in datastore", headerOnly.getMessage());
  }

  @Test
  void headerOnlyRequestsGoToARandomEndpoint() {
    for (int i = 0; i < 3; i++) {
      pod(i, i, 0);
    }
    Director director = director(HERMETIC_CONFIG);
    Set<String> seen = new java.util.HashSet<>();
    for (int i = 0; i < 200; i++) {
      Routing routing = director.routeHeaderOnly(Map.of());
      assertTrue(routing.result().isEmpty());
      seen.add(routing.destination());
    }
    assertEquals(Set.of("192.168.1.1:8000", "192.168.1.2:8000", "192.168.1.3:8000"), seen);
  }

  @Test
  void passthroughParserNeedsNoModelAndKeepsTheBody() {
    pod(0, 0, 0);
    Director director = director(HEADER + """
        plugins:
        - type: passthrough-parser
        - type: queue-scorer
        parser:
          pluginRef: passthrough-parser
        """);
    byte[] body = "not even json".getBytes(StandardCharsets.UTF_8);
    Routing routing = director.route(headers("my-model", "ignored-rewrite"), body, null);
    assertSame(body, routing.body());
    assertEquals("", routing.context().request().incomingModel());
    assertEquals(2, routing.context().request().priority());
  }

  @Test
  void hooksRunInOrderAndFailuresAreContained() {
    List<String> calls = new ArrayList<>();
    registry.register(TestPlugins.factory("hooks", spec -> new Hooks(spec.typedName(), calls)));
    registry.register(TestPlugins.factory("deny", spec -> new Admission() {
      @Override
      public TypedName typedName() {
        return spec.typedName();
      }

      @Override
      public void admit(RequestContext context, Candidates candidates) {
        if (context.request().targetModel().equals("denied")) {
          throw new InferenceException(Code.FORBIDDEN, "not allowed");
        }
        throw new IllegalStateException("admission bug");
      }
    }));
    pod(0, 0, 0);
    Director director = director(HEADER + "plugins:\n- type: hooks\n- type: deny\n- type: queue-scorer\n");
    Routing routing = director.route(Map.of(":path", "/v1/chat/completions", "content-type", "application/json"),
        "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
            .getBytes(StandardCharsets.UTF_8), null);
    InferenceResponse response = director.responseHeaders(routing, Map.of("content-type", "text/event-stream"));
    assertTrue(routing.streaming());
    assertEquals("yes", response.headers().get("x-hooked"));
    assertEquals(null, director.responseBody(routing, "data: {}\n\n".getBytes(StandardCharsets.UTF_8), false));
    Usage usage = director.responseBody(routing, ("data: {\"object\":\"chat.completion.chunk\",\"usage\":"
        + "{\"prompt_tokens\":7,\"completion_tokens\":2,\"total_tokens\":9}}\n\ndata: [DONE]\n\n")
        .getBytes(StandardCharsets.UTF_8), true);
    assertNotNull(usage);
    assertEquals(7, response.usage().promptTokens());
    director.finish(routing); // already complete: no extra call
    assertEquals(List.of("prepare", "preRequest", "headers", "body:false", "body:true"), calls);

    InferenceException denied = assertThrows(InferenceException.class,
        () -> director.route(Map.of(), completion("denied", "p"), null));
    assertEquals(Code.FORBIDDEN, denied.code());
  }

  @Test
  void usageSplitAcrossEventsIsMergedForTheResponse() {
    pod(0, 0, 0);
    Director director = director(HEADER + """
        plugins:
        - type: anthropic-parser
        - type: queue-scorer
        parser:
          pluginRef: anthropic-parser
        """);
    Routing routing = director.route(Map.of(":path", "/v1/messages"),
        "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
            .getBytes(StandardCharsets.UTF_8), null);
    InferenceResponse response = director.responseHeaders(routing, Map.of("content-type", "text/event-stream"));
    director.responseBody(routing, ("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{"
        + "\"usage\":{\"input_tokens\":25,\"cache_read_input_tokens\":20,\"output_tokens\":1}}}\n\n")
        .getBytes(StandardCharsets.UTF_8), false);
    assertEquals(new Usage(25, 0, 25, 20), response.usage());
    director.responseBody(routing, ("event: message_delta\ndata: {\"type\":\"message_delta\","
        + "\"usage\":{\"output_tokens\":15}}\n\n").getBytes(StandardCharsets.UTF_8), true);
    assertEquals(new Usage(25, 15, 40, 20), response.usage());
  }

  @Test
  void agentConversationsKeepPrefixAffinityThroughTheAnthropicParser() {
    for (int i = 0; i < 4; i++) {
      pod(i, 1, 0.3);
    }
    Director director = director(HEADER + """
        plugins:
        - type: anthropic-parser
        - type: prefix-cache-scorer
        parser:
          pluginRef: anthropic-parser
        """);
    Set<String> firstPods = new java.util.HashSet<>();
    for (int conversation = 0; conversation < 6; conversation++) {
      StringBuilder messages = new StringBuilder("{\"role\":\"user\",\"content\":\"task " + conversation + "\"}");
      String first = null;
      for (int turn = 0; turn < 5; turn++) {
        String body = "{\"model\":\"m\",\"system\":[{\"type\":\"text\",\"text\":\"x-anthropic-billing-header: cch="
            + conversation + "-" + turn + "\"},{\"type\":\"text\",\"text\":\"Project " + conversation + ". "
            + "You are a careful agent. ".repeat(40)
            + "\"}],\"messages\":[" + messages + "]}";
        String pod = director.route(Map.of(":path", "/v1/messages"), body.getBytes(StandardCharsets.UTF_8), null)
            .destination();
        if (first == null) {
          first = pod;
          firstPods.add(pod);
        }
        assertEquals(first, pod, "conversation " + conversation + " turn " + turn);
        messages.append(",{\"role\":\"assistant\",\"content\":\"step ").append(turn)
            .append("\"},{\"role\":\"user\",\"content\":\"continue\"}");
      }
    }
    assertTrue(firstPods.size() > 1, "new conversations spread over the pods: " + firstPods);
  }

  @Test
  void finishEndsAnIncompleteResponseOnce() {
    List<String> calls = new ArrayList<>();
    registry.register(TestPlugins.factory("hooks", spec -> new Hooks(spec.typedName(), calls)));
    pod(0, 0, 0);
    Director director = director(HEADER + "plugins:\n- type: hooks\n- type: queue-scorer\n");
    Routing routing = director.route(Map.of(), completion("m", "p"), null);
    director.finish(routing);
    director.finish(routing);
    assertEquals(List.of("prepare", "preRequest", "body:true"), calls);
    assertArrayEquals(completion("m", "p"), routing.body());
  }

  @Test
  void recordsEachRequestsLifecycleForInProcessGateways() {
    pod(0, 0, 0);
    List<String> recorded = new ArrayList<>();
    MetricsRecorder metrics = new MetricsRecorder() {
      @Override
      public void recordRequest(String model, String targetModel, int priority) {
        recorded.add("request " + model + " " + targetModel + " " + priority);
      }

      @Override
      public void recordRequestError(String model, String targetModel, String errorCode) {
        recorded.add("error " + model + " " + targetModel + " " + errorCode);
      }

      @Override
      public void recordRequestSize(String model, String targetModel, long bytes) {
        recorded.add("size " + bytes);
      }

      @Override
      public void recordResponseSize(String model, String targetModel, long bytes) {
        recorded.add("response size " + bytes);
      }

      @Override
      public void recordTokens(String model, String targetModel, long inputTokens, long outputTokens) {
        recorded.add("tokens " + inputTokens + " " + outputTokens);
      }

      @Override
      public void recordRequestDuration(String model, String targetModel, long nanos, long outputTokens) {
        recorded.add("duration " + nanos + " " + outputTokens);
      }

      @Override
      public void requestStarted(String model) {
        recorded.add("started " + model);
      }

      @Override
      public void requestFinished(String model) {
        recorded.add("finished " + model);
      }
    };
    long[] now = {1_000};
    Director director = Director.builder(
            EndpointPickerConfig.loader().registry(registry).metrics(metrics).parse(HERMETIC_CONFIG, "test.yaml"), pool)
        .objectives(OBJECTIVES)
        .ticker(() -> now[0])
        .build();
    byte[] body = completion("my-model", "p");
    Routing routing = director.route(headers("my-model", null), body, null, 400);
    director.responseHeaders(routing, Map.of("content-type", "application/json"));
    now[0] = 5_000;
    byte[] response = "{\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3}}".getBytes(StandardCharsets.UTF_8);
    director.responseBody(routing, response, true);
    director.finish(routing);
    director.finish(routing);
    assertEquals(List.of("request my-model my-model 2", "size " + body.length, "started my-model", "tokens 7 3",
        "response size " + response.length, "duration 4600 3", "finished my-model"), recorded);

    recorded.clear();
    Routing aborted = director.route(headers(null, null), completion("other", "p"), null);
    director.finish(aborted);
    assertEquals(List.of("request other other 0", "size " + completion("other", "p").length, "started other",
        "finished other"), recorded, "a response that never completed has no duration");

    recorded.clear();
    assertThrows(InferenceException.class, () -> director.route(Map.of(), "{}".getBytes(StandardCharsets.UTF_8), null));
    pool.remove("pod-0-rank-0");
    assertThrows(InferenceException.class, () -> director.route(Map.of(), completion("m", "p"), null));
    director.recordFailure(null, new InferenceException(Code.PAYLOAD_TOO_LARGE, "too big"));
    assertEquals(List.of("error   BadRequest", "error m m ServiceUnavailable", "error   PayloadTooLarge"), recorded);
  }

  @Test
  void recordsTimeToFirstTokenInterTokenLatencyAndTimePerOutputTokenWithFairnessAndPriority() {
    pod(0, 0, 0);
    List<String> recorded = new ArrayList<>();
    MetricsRecorder metrics = new MetricsRecorder() {
      @Override
      public void recordTimeToFirstToken(String model, String targetModel, String fairnessId, int priority,
          boolean streaming, long nanos) {
        recorded.add("ttft " + model + " " + fairnessId + " " + priority + " " + streaming + " " + nanos);
      }

      @Override
      public void recordInterTokenLatency(String model, String targetModel, String fairnessId, int priority,
          long nanos) {
        recorded.add("itl " + nanos);
      }

      @Override
      public void recordTimePerOutputToken(String model, String targetModel, String fairnessId, int priority,
          long nanosAfterFirstToken, long outputTokens) {
        recorded.add("tpot " + nanosAfterFirstToken + " " + outputTokens);
      }

      @Override
      public void recordRequestDuration(String model, String targetModel, String fairnessId, int priority,
          long nanos, long outputTokens) {
        recorded.add("duration " + fairnessId + " " + priority + " " + nanos);
      }
    };
    long[] now = {1_000};
    Director director = Director.builder(
            EndpointPickerConfig.loader().registry(registry).metrics(metrics).parse(HERMETIC_CONFIG, "test.yaml"), pool)
        .objectives(OBJECTIVES)
        .ticker(() -> now[0])
        .build();
    Map<String, String> headers = headers("my-model", null);
    headers.put(Director.FAIRNESS_ID_HEADER, "tenant-a");
    headers.put(":path", "/v1/chat/completions");
    Routing streamed = director.route(headers, ("{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":"
        + "\"user\",\"content\":\"hi\"}]}").getBytes(StandardCharsets.UTF_8), null, 400);
    director.responseHeaders(streamed, Map.of("content-type", "text/event-stream"));
    now[0] = 2_000;
    director.responseBody(streamed, "data: {\"choices\":[{\"text\":\"a\"}]}\n\n".getBytes(StandardCharsets.UTF_8),
        false);
    now[0] = 2_300;
    director.responseBody(streamed, "data: {\"choices\":[{\"text\":\"b\"}]}\n\n".getBytes(StandardCharsets.UTF_8),
        false);
    now[0] = 2_800;
    director.responseBody(streamed, ("data: {\"object\":\"chat.completion.chunk\",\"usage\":{\"prompt_tokens\":7,"
        + "\"completion_tokens\":3,\"total_tokens\":10}}\n\ndata: [DONE]\n\n").getBytes(StandardCharsets.UTF_8), true);
    director.finish(streamed);
    assertEquals(List.of("ttft m tenant-a 2 true 1600", "itl 300", "itl 500", "duration tenant-a 2 2400",
        "tpot 800 3"), recorded, "TTFT at the first chunk; TPOT = (e2e - TTFT) over the tokens after the first");

    recorded.clear();
    Routing buffered = director.route(headers("my-model", null), completion("m", "p"), null, 3_000);
    director.responseHeaders(buffered, Map.of("content-type", "application/json"));
    now[0] = 3_500;
    director.responseBody(buffered, "{\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3}}"
        .getBytes(StandardCharsets.UTF_8), true);
    assertEquals(List.of("duration default-flow 2 500", "ttft m default-flow 2 false 500"), recorded,
        "a buffered response's first token is its whole body");
  }

  /** Records every hook call; its PrepareData throws once to prove containment. */
  record Hooks(TypedName typedName, List<String> calls)
      implements PrepareData, dev.epp.api.requestcontrol.PreRequest, ResponseHeader, ResponseBody {
    @Override
    public void prepareData(RequestContext context, Candidates candidates) {
      calls.add("prepare");
      throw new IllegalStateException("producer bug");
    }

    @Override
    public void preRequest(RequestContext context, dev.epp.api.scheduling.SchedulingResult result) {
      calls.add("preRequest");
    }

    @Override
    public void responseHeaders(RequestContext context, InferenceResponse response) {
      calls.add("headers");
      response.headers().put("x-hooked", "yes");
    }

    @Override
    public void responseBody(RequestContext context, InferenceResponse response) {
      calls.add("body:" + response.endOfStream());
    }
  }
}
