package dev.epp.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.InferenceRequest;
import dev.epp.api.RequestBody;
import dev.epp.api.RequestContext;
import dev.epp.api.requestcontrol.PreRequest;
import dev.epp.api.requestcontrol.PrepareData;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.SchedulingResult;
import dev.epp.scheduler.plugins.prefix.ApproxPrefixCacheProducer;
import dev.epp.scheduler.plugins.prefix.PrefixCacheScorer;
import dev.epp.scheduler.plugins.prefix.PrefixMatch;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Prefix-cache-aware routing end to end: configuration loading (auto-created producer), then the real
 * {@link Scheduler} and {@link EndpointPool} driven as the request director will drive them.
 */
class PrefixCacheRoutingTest {

  private static final String HEADER =
      "apiVersion: inference.networking.x-k8s.io/v1alpha1\nkind: EndpointPickerConfig\n";

  /** A shared system prompt of about 2 KB: many 64-character blocks. */
  private static final String SYSTEM_PROMPT = "You are a meticulous assistant. ".repeat(64);

  private static EndpointPickerConfig load(String yaml) {
    return EndpointPickerConfig.loader().registry(TestPlugins.registry()).parse(yaml, "test.yaml");
  }

  /** An equally loaded pool of {@code n} pods, scraped with the same metrics. */
  private static EndpointPool pool(int n) {
    EndpointPool pool = new EndpointPool();
    for (int i = 0; i < n; i++) {
      addPod(pool, i);
    }
    return pool;
  }

  private static void addPod(EndpointPool pool, int i) {
    String name = "pod-" + i + "-rank-0";
    pool.upsert(Endpoint.of(name, "10.0.0." + (i + 1), 8000));
    pool.updateMetrics(name, EndpointMetrics.builder().waitingQueueSize(1).kvCacheUsage(0.3).updatedNanos(0).build());
  }

  /** What the request director does around scheduling: data producers, the scheduler, then pre-request hooks. */
  private static final class Director {
    final EndpointPickerConfig config;
    final Scheduler scheduler;
    final EndpointPool pool;

    Director(EndpointPickerConfig config, EndpointPool pool) {
      this.config = config;
      this.scheduler = new Scheduler(config);
      this.pool = pool;
      config.listenTo(pool);
    }

    RequestContext context(String prompt) {
      return new RequestContext(InferenceRequest.builder().requestId("r").model("llama")
          .body(new RequestBody(RequestBody.Api.COMPLETIONS, false, "", prompt)).build());
    }

    String route(RequestContext context) {
      Candidates candidates = pool.snapshot();
      for (PrepareData producer : config.plugins(PrepareData.class)) {
        producer.prepareData(context, candidates);
      }
      SchedulingResult result = scheduler.schedule(context, candidates);
      for (PreRequest hook : config.plugins(PreRequest.class)) {
        hook.preRequest(context, result);
      }
      return result.targets().get(0).name();
    }

    String route(String prompt) {
      return route(context(prompt));
    }

    ApproxPrefixCacheProducer producer() {
      return (ApproxPrefixCacheProducer) config.plugin(ApproxPrefixCacheProducer.TYPE).orElseThrow();
    }
  }

  @Test
  void requestsSharingALongPrefixGoToTheSamePodWhenLoadsAreEqual() {
    Director director = new Director(EndpointPickerConfig.loader().registry(TestPlugins.registry()).defaults(),
        pool(4));
    Set<String> firstPods = new HashSet<>();
    for (int conversation = 0; conversation < 8; conversation++) {
      String prefix = "conversation " + conversation + ": " + SYSTEM_PROMPT;
      String first = director.route(prefix + "What is a KV cache?");
      firstPods.add(first);
      for (int turn = 0; turn < 5; turn++) {
        assertEquals(first, director.route(prefix + "Follow-up question " + turn), "conversation " + conversation);
      }
    }
    assertTrue(firstPods.size() > 1, "with equal loads new prefixes spread over pods: " + firstPods);
  }

  @Test
  void removedPodIsForgottenAndDoesNotAttractItsOldPrefixes() {
    EndpointPool pool = pool(3);
    Director director = new Director(load(HEADER + """
        plugins:
        - type: prefix-cache-scorer
          parameters:
            autoTune: false
            blockSizeTokens: 16
        """), pool);
    ApproxPrefixCacheProducer producer = director.producer();
    String pod = director.route(SYSTEM_PROMPT + "first");
    assertEquals(pod, director.route(SYSTEM_PROMPT + "second"));
    long before = producer.indexSize();
    assertTrue(before > 0);

    assertTrue(pool.remove(pod));
    assertEquals(0, producer.indexSize(), "the only indexed pod left");
    RequestContext context = director.context(SYSTEM_PROMPT + "third");
    assertNotEquals(pod, director.route(context));
    PrefixMatch match = context.get(PrefixMatch.KEY);
    for (int i = 0; i < 2; i++) {
      assertEquals(0, match.matchedBlocks(i), "no remaining pod holds the prefix");
    }

    // The pod comes back under the same name (a restart): its cache is empty, so it does not attract the prefix.
    int index = Integer.parseInt(pod.substring("pod-".length(), pod.indexOf("-rank")));
    addPod(pool, index);
    RequestContext again = director.context(SYSTEM_PROMPT + "fourth");
    director.route(again);
    Candidates candidates = pool.snapshot();
    for (int i = 0; i < candidates.size(); i++) {
      if (candidates.endpoint(i).name().equals(pod)) {
        assertEquals(0, again.get(PrefixMatch.KEY).matchedBlocks(candidates.position(i)));
      }
    }
  }

  @Test
  void scorerAloneGetsAProducerWithItsParameters() {
    EndpointPickerConfig config = load(HEADER + """
        plugins:
        - name: prefix
          type: prefix-cache-scorer
          parameters:
            autoTune: false
            blockSizeTokens: 1
        """);
    assertInstanceOf(PrefixCacheScorer.class, config.plugin("prefix").orElseThrow());
    ApproxPrefixCacheProducer producer =
        assertInstanceOf(ApproxPrefixCacheProducer.class, config.plugin("approx-prefix-cache-producer").orElseThrow());
    RequestContext context = new RequestContext(InferenceRequest.builder().model("m")
        .body(RequestBody.completion("aaaabbbb")).build());
    producer.prepareData(context, pool(1).snapshot());
    assertEquals(2, context.get(PrefixMatch.KEY).totalBlocks(), "blockSizeTokens 1 reached the producer");
  }

  @Test
  void scorerKeepsItsOwnParametersAndPassesTheRestToTheProducer() {
    EndpointPickerConfig config = load(HEADER + """
        plugins:
        - name: prefix
          type: prefix-cache-scorer
          parameters:
            matchLengthWeight: 0.5
            matchLengthScaleTokens: 4096
            prefixMatchInfoProducerName: ""
            blockSizeTokens: 1
            autoTune: false
        """);
    ApproxPrefixCacheProducer producer =
        assertInstanceOf(ApproxPrefixCacheProducer.class, config.plugin("approx-prefix-cache-producer").orElseThrow());
    RequestContext context = new RequestContext(InferenceRequest.builder().model("m")
        .body(RequestBody.completion("aaaabbbb")).build());
    producer.prepareData(context, pool(1).snapshot());
    assertEquals(2, context.get(PrefixMatch.KEY).totalBlocks());
  }

  @Test
  void scorerOwnParametersNextToAnExplicitProducerAreAccepted() {
    EndpointPickerConfig config = load(HEADER + """
        plugins:
        - name: my-producer
          type: approx-prefix-cache-producer
        - type: prefix-cache-scorer
          parameters:
            prefixMatchInfoProducerName: my-producer
            matchLengthWeight: 0.25
        """);
    assertEquals(List.of("my-producer"),
        config.plugins(PrepareData.class).stream().map(p -> p.typedName().name()).toList());
  }

  @Test
  void affinityFilterSticksARepeatedPromptToThePodThatServedIt() {
    Director director = new Director(load(HEADER + """
        plugins:
        - type: inflight-load-producer
        - type: prefix-cache-affinity-filter
          parameters:
            explorationProbability: 0   # GIE's default explores 1% of requests at random
        - type: random-picker
        schedulingProfiles:
        - name: default
          plugins:
          - pluginRef: prefix-cache-affinity-filter
          - pluginRef: random-picker
        """), pool(4));
    String first = director.route(SYSTEM_PROMPT);
    for (int i = 0; i < 20; i++) {
      assertEquals(first, director.route(SYSTEM_PROMPT), "request " + i);
    }
    Set<String> others = new HashSet<>();
    for (int i = 0; i < 40; i++) {
      others.add(director.route("unrelated prompt " + i + " " + "x".repeat(200)));
    }
    assertTrue(others.size() > 1, "prompts without a cached prefix are spread: " + others);
  }

  @Test
  void affinityFilterAloneGetsADefaultProducer() {
    EndpointPickerConfig config = load(HEADER + """
        plugins:
        - type: prefix-cache-affinity-filter
          parameters:
            maxTTFTPenaltyMs: 0
        """);
    assertInstanceOf(ApproxPrefixCacheProducer.class, config.plugin("approx-prefix-cache-producer").orElseThrow());
    ConfigException e = assertThrows(ConfigException.class, () -> load(HEADER + """
        plugins:
        - name: approx-prefix-cache-producer
          type: queue-scorer
        - type: prefix-cache-affinity-filter
          parameters:
            maxTTFTPenaltyMs: 0
        """));
    assertTrue(e.getMessage().contains("plugins[1]: prefix-cache-affinity-filter needs a plugin named"),
        e.getMessage());
  }

  @Test
  void defaultConfigurationIncludesTheProducer() {
    EndpointPickerConfig config = EndpointPickerConfig.loader().registry(TestPlugins.registry()).defaults();
    assertTrue(config.plugin("approx-prefix-cache-producer").isPresent());
    assertEquals(1, config.plugins(PrepareData.class).size());
  }

  @Test
  void explicitProducerIsNotDuplicated() {
    EndpointPickerConfig config = load(HEADER + """
        plugins:
        - name: my-producer
          type: approx-prefix-cache-producer
          parameters:
            blockSizeTokens: 32
        - type: prefix-cache-scorer
        """);
    assertEquals(List.of("my-producer"),
        config.plugins(PrepareData.class).stream().map(p -> p.typedName().name()).toList());
    assertFalse(config.plugin("approx-prefix-cache-producer").isPresent());
  }

  @Test
  void scorerParametersNextToAnExplicitProducerAreAnError() {
    ConfigException e = assertThrows(ConfigException.class, () -> load(HEADER + """
        plugins:
        - name: my-producer
          type: approx-prefix-cache-producer
        - type: prefix-cache-scorer
          parameters:
            blockSizeTokens: 32
        """));
    assertTrue(e.getMessage().contains("plugins[1].parameters: ") && e.getMessage().contains("'my-producer'"),
        e.getMessage());
  }

  @Test
  void legacyBlockSizeIsRejectedAtTheScorersEntry() {
    ConfigException e = assertThrows(ConfigException.class, () -> load(HEADER + """
        plugins:
        - type: queue-scorer
        - type: prefix-cache-scorer
          parameters:
            blockSize: 64
        """));
    assertTrue(e.getMessage().startsWith("test.yaml:7:5: plugins[1].parameters.blockSize: "), e.getMessage());
    assertTrue(e.getMessage().contains("use blockSizeTokens"), e.getMessage());
  }

  @Test
  void producerNameTakenByAnotherPluginIsAnError() {
    ConfigException e = assertThrows(ConfigException.class, () -> load(HEADER + """
        plugins:
        - name: approx-prefix-cache-producer
          type: queue-scorer
        - type: prefix-cache-scorer
        """));
    assertTrue(e.getMessage().contains("plugins[1]: "), e.getMessage());
  }

  @Test
  void listenToRegistersTheProducerWithThePool() {
    EndpointPickerConfig config = load(HEADER + "plugins:\n- type: prefix-cache-scorer\n");
    EndpointPool pool = pool(2);
    Director director = new Director(config, pool);
    String pod = director.route(SYSTEM_PROMPT);
    assertTrue(director.producer().indexSize() > 0);
    pool.remove(pod);
    assertEquals(0, director.producer().indexSize());
  }
}
