package dev.epp.kvcache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.MetricsRecorder;
import dev.epp.kvcache.events.KvEvent;
import dev.epp.scheduler.ConfigException;
import dev.epp.scheduler.Director;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.scheduler.EndpointPool;
import dev.epp.scheduler.Routing;
import dev.epp.scheduler.plugins.prefix.PrefixMatch;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PrecisePrefixCacheProducerTest {

  private static final String HEADER = "apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\n";
  private static final String PROMPT = "abcdefghijklmnop"; // 4 blocks of 4 tokens

  private final EndpointPool pool = new EndpointPool();

  @BeforeEach
  void reset() {
    TestPlugins.CALLS.clear();
  }

  private static String config(String producerParameters, boolean tokens) {
    return HEADER + "plugins:\n"
        + (tokens ? "- type: test-token-producer\n" : "")
        + "- name: precise\n  type: precise-prefix-cache-producer\n  parameters: " + producerParameters
        + "\n- type: prefix-cache-scorer\n  parameters: {prefixMatchInfoProducerName: precise}\n"
        + "- type: max-score-picker\n"
        + "schedulingProfiles:\n- name: default\n  plugins:\n  - pluginRef: prefix-cache-scorer\n"
        + "  - pluginRef: max-score-picker\n";
  }

  private static EndpointPickerConfig load(String yaml) {
    return EndpointPickerConfig.loader().registry(TestPlugins.registry()).parse(yaml, "test.yaml");
  }

  private void pod(String name, int octet) {
    pool.upsert(Endpoint.of(name, "10.0.0." + octet, 8000));
    pool.updateMetrics(name, EndpointMetrics.builder().updatedNanos(System.nanoTime()).build());
  }

  private static byte[] completion(String prompt) {
    return ("{\"model\":\"m\",\"prompt\":\"" + prompt + "\"}").getBytes(StandardCharsets.UTF_8);
  }

  private static KvEvent stored(long engine, int[] tokens, int from, int to, String medium) {
    return new KvEvent.BlockStored(new long[] {engine}, 0, false, java.util.Arrays.copyOfRange(tokens, from, to), 4,
        null, medium, List.of());
  }

  @Test
  void routesToTheEndpointWhoseEventsShowTheLongestPrefixAndSubscribesAsThePoolChanges() {
    pod("a", 1);
    EndpointPickerConfig config = load(config("{tokenProcessorConfig: {blockSizeTokens: 4}}", true));
    Director director = Director.builder(config, pool).build();
    pod("b", 2);
    pod("c", 3);
    assertEquals(List.of("subscribe a", "subscribe b", "subscribe c"), TestPlugins.CALLS);

    PrecisePrefixCacheProducer producer = TestPlugins.lastProducer;
    int[] tokens = TestPlugins.tokens(PROMPT);
    long[] keys = producer.index().blockKeys().keys("m", tokens);
    assertEquals(4, keys.length);
    producer.index().apply("b", "m", List.of(new KvEvent.BlockStored(new long[] {1, 2, 3}, 0, false,
        java.util.Arrays.copyOfRange(tokens, 0, 12), 4, null, "gpu", List.of())));
    producer.index().apply("c", "m", List.of(new KvEvent.BlockStored(new long[] {1, 2, 3}, 0, false,
        java.util.Arrays.copyOfRange(tokens, 0, 12), 4, null, "cpu", List.of())));

    Routing routing = director.route(Map.of(), completion(PROMPT), null);
    assertEquals("10.0.0.2:8000", routing.destination());
    PrefixMatch match = routing.context().get(producer.matchKey());
    assertEquals(4, match.totalBlocks());
    assertEquals(4, match.blockSizeTokens());
    assertEquals(0, match.matchedBlocks(Endpoint.of("a", "10.0.0.1", 8000)));
    assertEquals(3, match.matchedBlocks(Endpoint.of("b", "10.0.0.2", 8000)));
    assertEquals(2, match.matchedBlocks(Endpoint.of("c", "10.0.0.3", 8000)), "3 cpu blocks: 2.4, rounded down");
    assertEquals(match, routing.context().get(PrefixMatch.KEY));
    director.finish(routing);

    producer.index().apply("c", "m", List.of(new KvEvent.BlockStored(new long[] {11, 12, 13, 14}, 0, false, tokens,
        4, null, "gpu", List.of())));
    assertEquals("10.0.0.3:8000", director.route(Map.of(), completion(PROMPT), null).destination(),
        "c now holds all 4 blocks on gpu");

    pool.remove("c");
    assertEquals("unsubscribe c", TestPlugins.CALLS.get(TestPlugins.CALLS.size() - 1));
    assertEquals(0, producer.index().match(keys, new String[] {"c"})[0]);

    config.close();
    config.close();
    assertEquals(1, TestPlugins.CALLS.stream().filter("close"::equals).count());
    pod("d", 4);
    assertTrue(TestPlugins.CALLS.stream().noneMatch("subscribe d"::equals), "closed: no new subscriptions");
  }

  @Test
  void speculativeIndexingRecordsThePickForTheTtlOnly() {
    pod("a", 1);
    pod("b", 2);
    Director director = Director.builder(load(config(
        "{speculativeIndexing: true, speculativeTTL: 200ms, tokenProcessorConfig: {blockSizeTokens: 4}}", true)),
        pool).build();
    PrecisePrefixCacheProducer producer = TestPlugins.lastProducer;
    long[] keys = producer.index().blockKeys().keys("m", TestPlugins.tokens(PROMPT));
    Routing first = director.route(Map.of(), completion(PROMPT), null);
    String target = first.targets().get(0).name();
    assertEquals(4, producer.index().match(keys, new String[] {target})[0], "recorded at once");
    Routing second = director.route(Map.of(), completion(PROMPT), null);
    assertEquals(target, second.targets().get(0).name(), "the next request follows it");
    assertEquals(4, second.context().get(producer.matchKey()).matchedBlocks(first.targets().get(0)));
    Awaitility.await().atMost(Duration.ofSeconds(30))
        .until(() -> producer.index().match(keys, new String[] {target})[0] == 0);
    assertEquals(0, producer.index().size());
  }

  @Test
  void withoutSpeculativeIndexingAPickRecordsNothing() {
    pod("a", 1);
    Director director = Director.builder(load(config("{}", true)), pool).build();
    director.route(Map.of(), completion(PROMPT), null);
    assertEquals(0, TestPlugins.lastProducer.index().size());
  }

  @Test
  void withoutATokenizedPromptNoMatchIsStoredAndTheRequestIsCounted() {
    pod("a", 1);
    Director director = Director.builder(load(config("{}", false)), pool).build();
    Routing routing = director.route(Map.of(), completion(PROMPT), null);
    assertEquals("10.0.0.1:8000", routing.destination());
    assertNull(routing.context().get(TestPlugins.lastProducer.matchKey()));
    assertEquals(1, TestPlugins.lastProducer.requestsWithoutTokens());
  }

  @Test
  void parametersFollowLlmdNestingAndDefaults() {
    load(config("{}", false));
    assertEquals(16, TestPlugins.lastProducer.index().blockKeys().blockSize());
    load(config("{tokenProcessorConfig: {blockSize: 64}}", false));
    assertEquals(64, TestPlugins.lastProducer.index().blockKeys().blockSize(), "deprecated alias");
    load(config("{tokenProcessorConfig: {blockSize: 8, blockSizeTokens: 32}}", false));
    assertEquals(32, TestPlugins.lastProducer.index().blockKeys().blockSize());

    load(config("{indexerConfig: {kvBlockIndexConfig: {inMemoryConfig: {podCacheSize: 1}}}, "
        + "tokenProcessorConfig: {blockSizeTokens: 4}}", false));
    PrecisePrefixCacheProducer producer = TestPlugins.lastProducer;
    int[] tokens = TestPlugins.tokens(PROMPT);
    producer.index().apply("x", "m", List.of(stored(1, tokens, 0, 4, "gpu")));
    producer.index().apply("y", "m", List.of(stored(1, tokens, 0, 4, "gpu")));
    double[] scores = producer.index().match(producer.index().blockKeys().keys("m", tokens), new String[] {"x", "y"});
    assertEquals(0, scores[0]);
    assertEquals(1, scores[1]);

    load(config("{indexerConfig: {kvCacheBackendConfigs: [{name: cpu, weight: 0.5}]}, "
        + "tokenProcessorConfig: {blockSizeTokens: 4}}", false));
    producer = TestPlugins.lastProducer;
    producer.index().apply("x", "m", List.of(stored(1, tokens, 0, 4, "cpu")));
    assertEquals(0.5, producer.index().match(producer.index().blockKeys().keys("m", tokens), new String[] {"x"})[0]);

    load(config("{kvEventsConfig: {socketPort: 6000, topicFilter: 'kv@', concurrency: 2, discoverPods: true, "
        + "replaySocketPort: 6001, engineType: vllm}, speculativeIndexing: true, speculativeTTL: 5s, "
        + "indexerConfig: {kvBlockIndexConfig: {enableMetrics: true}}, "
        + "tokenProcessorConfig: {hashSeed: '42', hashAlgorithm: cbor-fnv}}", false));
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "{tokenProcessorConfig: {blockSizeTokens: -1}}                       | tokenProcessorConfig.blockSizeTokens",
      "{tokenProcessorConfig: {blockSize: -5}}                             | tokenProcessorConfig.blockSize",
      "{tokenProcessorConfig: {hashAlgorithm: xxh64}}                      | tokenProcessorConfig.hashAlgorithm",
      "{tokenProcessorConfig: {blockSizeToken: 4}}                         | tokenProcessorConfig.blockSizeToken",
      "{indexerConfig: {kvBlockIndexConfig: {redisConfig: {}}}}            | indexerConfig.kvBlockIndexConfig.redisConfig",
      "{indexerConfig: {kvBlockIndexConfig: {inMemoryConfig: {size: 0}}}}  | kvBlockIndexConfig.inMemoryConfig.size",
      "{indexerConfig: {kvBlockIndexConfig: {inMemoryConfig: {podCacheSize: 0}}}} | inMemoryConfig.podCacheSize",
      "{indexerConfig: {kvCacheBackendConfigs: [{name: gpu, weight: 0}]}}  | indexerConfig.kvCacheBackendConfigs[0].weight",
      "{kvEventsConfig: {socketPort: 70000}}                               | kvEventsConfig.socketPort",
      "{kvEventsConfig: {concurrency: 0}}                                  | kvEventsConfig.concurrency",
      "{kvEventsConfig: {discoverPods: false}}                             | kvEventsConfig.discoverPods",
      "{kvEventsConfig: {engineType: sglang}}                              | kvEventsConfig.engineType",
      "{kvEventsConfig: {zmqEndpoint: 'tcp://x:1'}}                        | kvEventsConfig.zmqEndpoint",
      "{speculativeTTL: 0s}                                                | speculativeTTL",
      "{unknown: 1}                                                        | unknown"})
  void invalidParametersAreRejectedNamingTheParameter(String parameters, String path) {
    ConfigException e = assertThrows(ConfigException.class, () -> load(config(parameters, false)));
    assertTrue(e.getMessage().contains(path), e::getMessage);
  }

  @Test
  void llmdsSamplePreciseConfigurationLoads() throws Exception {
    Path sample = Path.of(getClass().getResource("epp-precise-prefix-cache-config.yaml").toURI());
    EndpointPickerConfig config = EndpointPickerConfig.loader().registry(TestPlugins.registry()).load(sample);
    PrecisePrefixCacheProducer producer = config.plugin("precise-prefix-cache-producer")
        .map(PrecisePrefixCacheProducer.class::cast).orElseThrow();
    assertEquals(64, producer.index().blockKeys().blockSize());
    assertTrue(config.plugin("endpoint-notification-source").orElseThrow() instanceof EndpointNotificationSource);
    config.close();
  }

  @Test
  void theRealFactoryStartsNoSubscriptionsBeforeTheFirstEndpoint() {
    EndpointPickerConfig config = EndpointPickerConfig.loader()
        .registry(dev.epp.scheduler.PluginRegistry.load(getClass().getClassLoader()))
        .parse(HEADER + "plugins:\n- type: precise-prefix-cache-producer\n"
            + "- type: endpoint-notification-source\n", "test.yaml");
    assertTrue(config.plugin("precise-prefix-cache-producer").orElseThrow() instanceof PrecisePrefixCacheProducer);
    config.close();
  }

  @ParameterizedTest
  @CsvSource({"true, 1", "false, 0"})
  void enableMetricsExportsTheIndexCountersThroughTheRealFactoryUntilClosed(boolean enabled, int indexesAdded) {
    List<MetricsRecorder.KvCacheIndexStats> added = new CopyOnWriteArrayList<>();
    List<MetricsRecorder.KvCacheIndexStats> removed = new CopyOnWriteArrayList<>();
    MetricsRecorder recorder = new MetricsRecorder() {
      @Override
      public void addKvCacheIndex(KvCacheIndexStats index) {
        added.add(index);
      }

      @Override
      public void removeKvCacheIndex(KvCacheIndexStats index) {
        removed.add(index);
      }
    };
    EndpointPickerConfig config = EndpointPickerConfig.loader()
        .registry(dev.epp.scheduler.PluginRegistry.load(getClass().getClassLoader()))
        .metrics(recorder)
        .parse(HEADER + "plugins:\n- type: precise-prefix-cache-producer\n  parameters: {tokenProcessorConfig: "
            + "{blockSizeTokens: 4}, indexerConfig: {kvBlockIndexConfig: {enableMetrics: " + enabled + "}}}\n"
            + "- type: endpoint-notification-source\n", "test.yaml");
    assertEquals(indexesAdded, added.size());
    if (enabled) {
      PrecisePrefixCacheProducer producer = config.plugin("precise-prefix-cache-producer")
          .map(PrecisePrefixCacheProducer.class::cast).orElseThrow();
      int[] tokens = TestPlugins.tokens(PROMPT);
      producer.index().apply("a", "m", List.of(stored(1, tokens, 0, 8, "gpu")));
      producer.index().match(producer.index().blockKeys().keys("m", tokens), new String[] {"a"});
      MetricsRecorder.KvCacheIndexStats stats = added.get(0);
      assertEquals(2, stats.keys());
      assertEquals(2, stats.admissions());
      assertEquals(0, stats.evictions());
      assertEquals(1, stats.lookups());
      assertEquals(2, stats.lookupHits());
    }
    config.close();
    assertEquals(added, removed, "closing the producer removes its index from the metrics");
  }

  @Test
  void aFactoryGivenSubscriptionsSubscribesThroughThemAndTheirEventsReachTheIndex() {
    List<String> calls = new java.util.ArrayList<>();
    List<dev.epp.kvcache.events.KvEventSink> sinks = new java.util.ArrayList<>();
    dev.epp.scheduler.PluginRegistry defaults = dev.epp.scheduler.PluginRegistry.load(getClass().getClassLoader());
    dev.epp.scheduler.PluginRegistry registry = new dev.epp.scheduler.PluginRegistry();
    defaults.types().stream().filter(type -> !type.equals(PrecisePrefixCacheProducer.TYPE))
        .forEach(type -> registry.register(defaults.factory(type).orElseThrow()));
    registry.register(new PrecisePrefixCacheProducer.Factory(sink -> {
      sinks.add(sink);
      return new PrecisePrefixCacheProducer.Subscriptions() {
        @Override
        public void subscribe(Endpoint endpoint) {
          calls.add("subscribe " + endpoint.name());
        }

        @Override
        public void unsubscribe(String name) {
          calls.add("unsubscribe " + name);
        }

        @Override
        public void close() {
          calls.add("close");
        }
      };
    }));
    EndpointPickerConfig config = EndpointPickerConfig.loader().registry(registry).parse(HEADER
        + "plugins:\n- type: precise-prefix-cache-producer\n  parameters: {tokenProcessorConfig: {blockSizeTokens: 4}}\n",
        "test.yaml");
    PrecisePrefixCacheProducer producer = config.plugins(PrecisePrefixCacheProducer.class).get(0);
    config.listenTo(pool);
    pod("a", 1);
    pool.remove("a");
    config.close();

    assertEquals(List.of("subscribe a", "unsubscribe a", "close"), calls);
    assertEquals(List.of(producer.index()), sinks);
  }

  @Test
  void anEndpointThatCannotBeSubscribedToStillJoinsThePoolForTheOtherListeners() {
    PrecisePrefixCacheProducer producer = new PrecisePrefixCacheProducer("p",
        new dev.epp.kvcache.index.KvBlockIndex(new dev.epp.kvcache.index.BlockKeys(4, ""), 1000, 10,
            dev.epp.kvcache.index.KvBlockIndex.defaultWeights()),
        sink -> new PrecisePrefixCacheProducer.Subscriptions() {
          @Override
          public void subscribe(Endpoint endpoint) {
            throw new IllegalArgumentException("KV-event port 65536 is not in 1..65535");
          }

          @Override
          public void unsubscribe(String name) {}

          @Override
          public void close() {}
        }, null);
    List<String> heard = new java.util.ArrayList<>();
    pool.addListener(producer);
    pool.addListener(new dev.epp.api.EndpointStore.Listener() {
      @Override
      public void added(Endpoint endpoint) {
        heard.add(endpoint.name());
      }

      @Override
      public void removed(Endpoint endpoint) {}
    });
    pod("a", 1);
    assertEquals(List.of("a"), heard);
    producer.close();
  }
}
