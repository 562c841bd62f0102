package dev.epp.examples.simulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.Endpoint;
import dev.epp.api.MetricsRecorder;
import dev.epp.kvcache.PrecisePrefixCacheProducer;
import dev.epp.scheduler.Director;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.scheduler.EndpointPool;
import dev.epp.scheduler.Routing;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code routing-bench}'s precise prefix-cache rows: engines' KV events reach the precise producer's index in virtual
 * time, EPP replicas alternate, and with two replicas the precise index beats the approximate one.
 */
class RoutingBenchPreciseTest {

  private static final String MODEL = EngineConfig.DEFAULT_MODEL;
  private static final String[] PODS = {"sim-0-rank-0", "sim-1-rank-0"};

  @TempDir
  Path dir;

  /** Two pods of {@code kvBlocks} blocks behind one EPP with the bench's precise configuration. */
  private static final class TwoPods {
    final VirtualClock clock = new VirtualClock();
    final EndpointPool pool = new EndpointPool();
    final SimulatedKvEvents events = new SimulatedKvEvents(clock, MODEL);
    final List<SimulatedEngine> engines = new ArrayList<>();
    final EndpointPickerConfig config;
    final Director director;
    final PrecisePrefixCacheProducer producer;

    TwoPods(int kvBlocks) {
      this(kvBlocks, RoutingBench.Index.PRECISE);
    }

    TwoPods(int kvBlocks, RoutingBench.Index index) {
      for (int i = 0; i < PODS.length; i++) {
        pool.upsert(new Endpoint(PODS[i], "10.0.0." + (i + 1), 8000, Map.of(Role.LABEL, Role.BOTH.labelValue())));
        engines.add(new SimulatedEngine(EngineConfig.defaults().withKvBlocks(kvBlocks), clock,
            events.listener(PODS[i])));
      }
      config = EndpointPickerConfig.loader().registry(RoutingBench.registry(events)).ticker(clock::nanos)
          .scheduler(new VirtualScheduler(clock)).random(new Random(1)).parse(RoutingBench.kvAware(index), "precise");
      director = Director.builder(config, pool).ticker(clock::nanos).build();
      producer = config.plugins(PrecisePrefixCacheProducer.class).get(0);
    }

    /** Serves {@code prompt} on pod {@code pod} to completion. */
    void serve(int pod, String prompt) {
      engines.get(pod).submit(new SimulatedEngine.Request(MODEL, prompt, "done", false, "length", false), c -> {});
      clock.run();
    }

    /** The precise index's matched blocks of {@code prompt} on each pod. */
    List<Double> matches(String prompt) {
      long[] keys = producer.index().blockKeys().keys(MODEL, TokenBlocks.tokenIds(prompt));
      return Arrays.stream(producer.index().match(keys, PODS)).boxed().toList();
    }

    /** Routes a completions request for {@code prompt} with fresh metrics. */
    Routing route(String prompt) {
      for (int i = 0; i < PODS.length; i++) {
        pool.updateMetrics(PODS[i], engines.get(i).endpointMetrics(clock.nanos()));
      }
      byte[] body = Workload.json(OpenAiRequest.JSON.createObjectNode().put("model", MODEL).put("prompt", prompt)
          .put("max_tokens", 1));
      return director.route(Map.of(":path", "/v1/completions", "x-request-id", "r", "content-type",
          "application/json"), body, null);
    }
  }

  @Test
  void aBlockStoredOnAnEngineMatchesTheNextRequestWithThatPrefixAndStopsMatchingWhenEvicted() {
    TwoPods pods = new TwoPods(64);
    String shared = Workload.text(new Random(1), "Shared: ", 16 * 10); // ten blocks of 16 tokens
    pods.serve(1, shared + " first question");
    assertEquals(List.of(0.0, 10.0), pods.matches(shared + " second question"));
    for (int i = 0; i < 5; i++) { // the router follows the blocks, whatever the load-balancing tie-break
      Routing routing = pods.route(shared + " question " + i);
      assertEquals(PODS[1], routing.targets().get(0).name());
      pods.director.finish(routing);
    }

    pods.serve(1, Workload.text(new Random(2), "Other: ", 16 * 63)); // needs all 64 blocks: evicts the prefix
    assertEquals(List.of(0.0, 0.0), pods.matches(shared + " second question"));
  }

  @Test
  void eventsReachTheIndexOneMillisecondAfterTheEngineStoresTheBlocks() {
    TwoPods pods = new TwoPods(64);
    String prompt = Workload.text(new Random(1), "Prompt: ", 16 * 4);
    pods.engines.get(0).submit(new SimulatedEngine.Request(MODEL, prompt, "done", false, "length", false), c -> {});
    pods.clock.runUntil(SimulatedKvEvents.DELIVERY_DELAY_NANOS - 1); // stored at admission, time 0
    assertEquals(List.of(0.0, 0.0), pods.matches(prompt));
    pods.clock.runUntil(SimulatedKvEvents.DELIVERY_DELAY_NANOS);
    assertEquals(List.of(4.0, 0.0), pods.matches(prompt));
  }

  @Test
  void speculativeIndexingRecordsThePickUntilItsTtlEndsInVirtualTime() {
    TwoPods pods = new TwoPods(64, RoutingBench.Index.SPECULATIVE);
    String prompt = Workload.text(new Random(1), "Prompt: ", 16 * 4);
    Routing routing = pods.route(prompt);
    int target = routing.targets().get(0).name().equals(PODS[0]) ? 0 : 1;
    assertEquals(4.0, pods.matches(prompt).get(target)); // before the pod has even seen the request
    pods.clock.runUntil(Duration.ofSeconds(2).toNanos() - 1);
    assertEquals(4.0, pods.matches(prompt).get(target));
    pods.clock.runUntil(Duration.ofSeconds(2).toNanos());
    assertEquals(List.of(0.0, 0.0), pods.matches(prompt));
  }

  @Test
  void requestsAlternateBetweenEppReplicasEachWithItsOwnConfiguration() {
    List<List<Long>> bodySizes = List.of(new ArrayList<>(), new ArrayList<>());
    List<EndpointPickerConfig> loaded = new ArrayList<>();
    RoutingBench.Config twoReplicas = new RoutingBench.Config("two", loader -> {
      List<Long> sizes = bodySizes.get(loaded.size());
      EndpointPickerConfig config = loader.metrics(new MetricsRecorder() {
        @Override
        public void recordRequestSize(String model, String targetModel, long bytes) {
          sizes.add(bytes);
        }
      }).parse(RoutingBench.kvAware(RoutingBench.Index.PRECISE), "two");
      loaded.add(config);
      return config;
    }, false, 2);
    RoutingBench.Scenario scenario = new RoutingBench.Scenario("shared-prefix", 100, Workload::generate,
        List.of(twoReplicas), EngineConfig.defaults());
    RoutingBench.Options options = new RoutingBench.Options(4, 11, 0, 42, List.of(scenario), Duration.ofMillis(50));

    assertEquals(11, RoutingBench.bench(scenario, options).get(0).requests());

    assertEquals(2, loaded.size());
    assertTrue(loaded.get(0).plugins(PrecisePrefixCacheProducer.class).get(0)
        != loaded.get(1).plugins(PrecisePrefixCacheProducer.class).get(0));
    List<Workload.Item> items = Workload.generate(11, 100, 42, MODEL);
    for (int replica = 0; replica < 2; replica++) {
      List<Long> expected = new ArrayList<>();
      for (int i = replica; i < items.size(); i += 2) {
        expected.add((long) items.get(i).body().length);
      }
      assertEquals(expected, bodySizes.get(replica), "replica " + replica);
    }
  }

  @Test
  void kvBlocksSizesEveryPodAndRejectsASizeNoRequestFits() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    assertEquals(0, RoutingBench.run(new String[] {"--workload", "multi-turn", "--requests", "20", "--kv-blocks", "512",
        "--out", dir.toString()}, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8)));
    assertTrue(out.toString(StandardCharsets.UTF_8).startsWith("multi-turn: 8 pods of 512 KV blocks, 20 requests"));

    assertEquals(2, RoutingBench.run(new String[] {"--workload", "multi-turn", "--requests", "20", "--kv-blocks", "8",
        "--out", dir.toString()}, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8)));
    String message = err.toString(StandardCharsets.UTF_8);
    assertTrue(message.startsWith("routing-bench: multi-turn: This model's KV cache holds 128 tokens; the request needs ")
        && message.endsWith(" Raise --kv-blocks.\n"), message);
  }

  @Test
  void withTwoEppReplicasThePreciseIndexHitsMoreThanTheApproximateOnes() {
    RoutingBench.Scenario scenario = RoutingBench.WORKLOADS.stream().filter(w -> w.name().equals("multi-turn"))
        .findFirst().orElseThrow();
    RoutingBench.Options options = new RoutingBench.Options(8, 800, 0, 42, List.of(scenario), Duration.ofMillis(50));
    List<RoutingBench.Row> rows = RoutingBench.bench(new RoutingBench.Scenario(scenario.name(),
        scenario.defaultRate(), scenario.generator(), RoutingBench.PRECISE_CONFIGS, scenario.engine()), options);
    RoutingBench.Row approximate = rows.stream().filter(r -> r.config().equals("approximate (2 EPPs)")).findFirst()
        .orElseThrow();
    RoutingBench.Row precise = rows.stream().filter(r -> r.config().equals("precise (2 EPPs)")).findFirst()
        .orElseThrow();
    assertTrue(precise.hitRate() > approximate.hitRate(), rows.toString());
    assertTrue(precise.ttftP90Ms() < approximate.ttftP90Ms(), rows.toString());
  }

  @Test
  void twoEppReplicasSharingTheirApproximateIndexHitAsOftenAsOne() {
    RoutingBench.Scenario scenario = RoutingBench.WORKLOADS.stream().filter(w -> w.name().equals("multi-turn"))
        .findFirst().orElseThrow();
    List<RoutingBench.Config> configs = RoutingBench.PRECISE_CONFIGS.stream()
        .filter(c -> c.name().contains("approximate")).toList();
    RoutingBench.Options options = new RoutingBench.Options(8, 800, 0, 42, List.of(scenario), Duration.ofMillis(50));
    List<RoutingBench.Row> rows = RoutingBench.bench(new RoutingBench.Scenario(scenario.name(),
        scenario.defaultRate(), scenario.generator(), configs, scenario.engine()), options);
    double one = hitRate(rows, "approximate (same weights)");
    double two = hitRate(rows, "approximate (2 EPPs)");
    double shared = hitRate(rows, "shared approximate (2 EPPs)");
    assertTrue(shared > two + 0.05, rows.toString());
    assertTrue(shared > one - 0.03, rows.toString());
  }

  private static double hitRate(List<RoutingBench.Row> rows, String config) {
    return rows.stream().filter(r -> r.config().equals(config)).findFirst().orElseThrow().hitRate();
  }
}
