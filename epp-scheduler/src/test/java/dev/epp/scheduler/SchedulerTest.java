package dev.epp.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.InferenceException;
import dev.epp.api.InferenceException.Code;
import dev.epp.api.InferenceRequest;
import dev.epp.api.MetricsRecorder;
import dev.epp.api.RequestContext;
import dev.epp.api.StateKey;
import dev.epp.api.TypedName;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.Filter;
import dev.epp.api.scheduling.Picker;
import dev.epp.api.scheduling.ProfileHandler;
import dev.epp.api.scheduling.ProfileResult;
import dev.epp.api.scheduling.SchedulingResult;
import dev.epp.api.scheduling.Scorer;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.LongConsumer;
import org.junit.jupiter.api.Test;

/** The scheduling algorithm: spec scenarios, weighted sums, filter semantics and plugin containment. */
class SchedulerTest {

  private static final String HEADER =
      "apiVersion: inference.networking.x-k8s.io/v1alpha1\nkind: EndpointPickerConfig\n";

  /** The Go EPP's hermetic-test configuration: four scorers, weight 1 each (prefix scorer when registered). */
  private static final String HERMETIC_CONFIG = HEADER + """
      plugins:
      - type: queue-scorer
      - type: kv-cache-utilization-scorer
      - type: lora-affinity-scorer
      schedulingProfiles:
      - name: default
        plugins:
        - pluginRef: queue-scorer
        - pluginRef: kv-cache-utilization-scorer
        - pluginRef: lora-affinity-scorer
      """;

  private final PluginRegistry registry = TestPlugins.registry();

  /** Pod {@code idx} as in the Go hermetic tests: 192.168.1.(idx+1):8000 with queue, KV use and LoRA adapters. */
  private static void pod(EndpointPool pool, int idx, int queue, double kv, String... adapters) {
    String name = "pod-" + idx + "-rank-0";
    pool.upsert(Endpoint.of(name, "192.168.1." + (idx + 1), 8000));
    pool.updateMetrics(name, EndpointMetrics.builder()
        .waitingQueueSize(queue).kvCacheUsage(kv).activeModels(Set.of(adapters)).updatedNanos(0).build());
  }

  private static RequestContext request(String targetModel) {
    return new RequestContext(InferenceRequest.builder().requestId("test").model(targetModel).build());
  }

  private Scheduler scheduler(String yaml) {
    return new Scheduler(EndpointPickerConfig.loader().registry(registry).parse(yaml, "test.yaml"));
  }

  private String route(Scheduler scheduler, EndpointPool pool, String model) {
    return scheduler.schedule(request(model), pool.snapshot()).targets().get(0).hostPort();
  }

  @Test
  void selectsLowerQueueAndKvCache() {
    EndpointPool pool = new EndpointPool();
    pod(pool, 0, 3, 0.2);
    pod(pool, 1, 0, 0.1);
    pod(pool, 2, 10, 0.2);
    Scheduler scheduler = scheduler(HERMETIC_CONFIG);
    for (int i = 0; i < 20; i++) {
      assertEquals("192.168.1.2:8000", route(scheduler, pool, "my-model-12345"));
    }
    Scheduler defaults = new Scheduler(EndpointPickerConfig.loader().registry(registry).defaults());
    assertEquals("192.168.1.2:8000", route(defaults, pool, "my-model-12345"));
  }

  @Test
  void selectsActiveLoraWithLowQueue() {
    EndpointPool pool = new EndpointPool();
    pod(pool, 0, 0, 0.2, "foo", "bar");
    pod(pool, 1, 0, 0.1, "foo", "sql-lora-1fdg2");
    pod(pool, 2, 10, 0.2, "foo", "bar");
    Scheduler scheduler = scheduler(HERMETIC_CONFIG);
    for (int i = 0; i < 20; i++) {
      assertEquals("192.168.1.2:8000", route(scheduler, pool, "sql-lora-1fdg2"));
    }
  }

  @Test
  void selectsLoraDespiteHigherKvCache() {
    EndpointPool pool = new EndpointPool();
    pod(pool, 0, 10, 0.2, "foo", "bar");
    pod(pool, 1, 10, 0.4, "foo", "sql-lora-1fdg2");
    pod(pool, 2, 10, 0.3, "foo");
    Scheduler scheduler = scheduler(HERMETIC_CONFIG);
    for (int i = 0; i < 20; i++) {
      assertEquals("192.168.1.2:8000", route(scheduler, pool, "sql-lora-1fdg2"));
    }
  }

  @Test
  void everyPluginCallIsTimedUnderItsExtensionPointAndName() {
    EndpointPool pool = new EndpointPool();
    pod(pool, 0, 3, 0.2);
    pod(pool, 1, 0, 0.1);
    Map<String, List<Long>> timed = new TreeMap<>();
    MetricsRecorder metrics = new MetricsRecorder() {
      @Override
      public LongConsumer pluginLatency(String extensionPoint, TypedName plugin) {
        List<Long> calls = new ArrayList<>();
        timed.put(extensionPoint + " " + plugin, calls);
        return calls::add;
      }
    };
    long[] now = {0};
    Scheduler scheduler = new Scheduler(EndpointPickerConfig.loader().registry(registry).metrics(metrics).parse(HEADER
        + """
        plugins:
        - type: queue-scorer
        - type: max-score-picker
        """, "test.yaml"), () -> now[0] += 1_000);
    scheduler.schedule(request("m"), pool.snapshot());
    scheduler.schedule(request("m"), pool.snapshot());
    assertEquals(Set.of("Scorer queue-scorer/queue-scorer", "Picker max-score-picker/max-score-picker",
            "ProfilePicker single-profile-handler/single-profile-handler",
            "ProcessProfilesResults single-profile-handler/single-profile-handler"), timed.keySet());
    timed.forEach((name, calls) -> assertTrue(calls.stream().allMatch(nanos -> nanos == 1_000), name));
    assertEquals(4, timed.get("ProfilePicker single-profile-handler/single-profile-handler").size(),
        "the handler picks until it returns no profile: twice per request");
    assertEquals(2, timed.get("Scorer queue-scorer/queue-scorer").size());
  }

  @Test
  void totalIsThePlainWeightedSumOfClampedScores() {
    registry.register(TestPlugins.factory("fixed-scores", spec -> new FixedScorer(spec.typedName(),
        new double[] {0.5, 7.0, -3.0, Double.NaN})));
    Recorder recorder = new Recorder(TypedName.of("recorder"));
    registry.register(TestPlugins.factory("recorder", spec -> recorder));
    Scheduler scheduler = scheduler(HEADER + """
        plugins:
        - type: fixed-scores
        - type: kv-cache-utilization-scorer
        - type: recorder
        schedulingProfiles:
        - name: p
          plugins:
          - pluginRef: fixed-scores
            weight: 2
          - pluginRef: kv-cache-utilization-scorer
            weight: 3
          - pluginRef: recorder
        """);
    EndpointPool pool = new EndpointPool();
    for (int i = 0; i < 4; i++) {
      pod(pool, i, 0, 0.5);
    }
    scheduler.schedule(request("m"), pool.snapshot());
    // fixed scores clamp to 0.5, 1, 0, 0 (x2); kv scores 0.5 each (x3); no division by the weight sum
    assertEquals(List.of(2.5, 3.5, 1.5, 1.5), recorder.lastScores);
  }

  @Test
  void filtersRunInOrderOverSurvivorsAndKeepTheirPositions() {
    registry.register(TestPlugins.factory("drop-even", spec -> new DropEvenFilter(spec.typedName())));
    Recorder recorder = new Recorder(TypedName.of("recorder"));
    registry.register(TestPlugins.factory("recorder", spec -> recorder));
    Scheduler scheduler = scheduler(HEADER + """
        plugins:
        - name: first
          type: drop-even
        - name: second
          type: drop-even
        - type: recorder
        schedulingProfiles:
        - name: p
          plugins:
          - pluginRef: first
          - pluginRef: second
          - pluginRef: recorder
        """);
    EndpointPool pool = new EndpointPool();
    for (int i = 0; i < 8; i++) {
      pod(pool, i, 0, 0);
    }
    SchedulingResult result = scheduler.schedule(request("m"), pool.snapshot());
    // first keeps 1,3,5,7; second keeps survivors at view indexes 1 and 3: positions 3 and 7
    assertEquals(List.of(3, 7), recorder.lastPositions);
    assertEquals("pod-7-rank-0", result.targets().get(0).name());
  }

  @Test
  void explanationRecordsWhatEachFilterRemovedEachScorersScoresAndThePick() {
    registry.register(TestPlugins.factory("drop-even", spec -> new DropEvenFilter(spec.typedName())));
    registry.register(TestPlugins.factory("fixed-scores", spec -> new FixedScorer(spec.typedName(),
        new double[] {0.5, 7.0})));
    Scheduler scheduler = scheduler(HEADER + """
        plugins:
        - type: drop-even
        - type: fixed-scores
        - type: kv-cache-utilization-scorer
        - type: max-score-picker
        schedulingProfiles:
        - name: p
          plugins:
          - pluginRef: drop-even
          - pluginRef: fixed-scores
            weight: 2
          - pluginRef: kv-cache-utilization-scorer
            weight: 3
          - pluginRef: max-score-picker
        """);
    EndpointPool pool = new EndpointPool();
    for (int i = 0; i < 4; i++) {
      pod(pool, i, 0, 0.5);
    }
    Explanation explanation = new Explanation();
    SchedulingResult result = scheduler.schedule(request("m"), pool.snapshot(), explanation);

    assertEquals("pod-3-rank-0", result.targets().get(0).name());
    assertEquals(1, explanation.profiles().size());
    Explanation.ProfileRun run = explanation.profiles().get(0);
    assertEquals("p", run.profile());
    assertEquals(List.of("pod-0-rank-0", "pod-1-rank-0", "pod-2-rank-0", "pod-3-rank-0"), run.candidates());
    assertEquals(1, run.filters().size());
    assertEquals(TypedName.of("drop-even"), run.filters().get(0).filter());
    assertEquals(List.of("pod-0-rank-0", "pod-2-rank-0"), run.filters().get(0).removed());
    assertEquals(2, run.scorers().size());
    assertEquals(2.0, run.scorers().get(0).weight());
    // 7.0 is used as 1: the explanation shows scores as the sum used them
    assertEquals(Map.of("pod-1-rank-0", 0.5, "pod-3-rank-0", 1.0), run.scorers().get(0).scores());
    assertEquals(Map.of("pod-1-rank-0", 0.5, "pod-3-rank-0", 0.5), run.scorers().get(1).scores());
    assertEquals(TypedName.of("max-score-picker"), run.pick().picker());
    assertEquals(Map.of("pod-1-rank-0", 2.5, "pod-3-rank-0", 3.5), run.pick().totals());
    assertEquals(List.of("pod-3-rank-0"), run.pick().picked());
  }

  @Test
  void explanationOfARunWithoutSurvivorsHasNoPick() {
    Scheduler scheduler = scheduler(HEADER + "plugins:\n- type: header-based-testing-filter\n");
    EndpointPool pool = new EndpointPool();
    pod(pool, 0, 0, 0);
    Explanation explanation = new Explanation();
    assertThrows(InferenceException.class, () -> scheduler.schedule(request("m"), pool.snapshot(), explanation));
    Explanation.ProfileRun run = explanation.profiles().get(0);
    assertEquals(List.of("pod-0-rank-0"), run.filters().get(0).removed());
    assertEquals(List.of(), run.scorers());
    assertEquals(null, run.pick());
  }

  @Test
  void noSurvivorIsResourceExhaustedAndNoCandidateIsServiceUnavailable() {
    Scheduler scheduler = scheduler(HEADER + """
        plugins:
        - type: header-based-testing-filter
        """);
    EndpointPool pool = new EndpointPool();
    pod(pool, 0, 0, 0);
    InferenceException none = assertThrows(InferenceException.class,
        () -> scheduler.schedule(request("m"), pool.snapshot()));
    assertEquals(Code.RESOURCE_EXHAUSTED, none.code());
    InferenceException empty = assertThrows(InferenceException.class,
        () -> scheduler.schedule(request("m"), new EndpointPool().snapshot()));
    assertEquals(Code.SERVICE_UNAVAILABLE, empty.code());
  }

  @Test
  void throwingPluginsAreContained() {
    registry.register(TestPlugins.factory("throwing-filter", spec -> new Filter() {
      @Override
      public TypedName typedName() {
        return spec.typedName();
      }

      @Override
      public void filter(RequestContext context, Candidates candidates, BitSet keep) {
        keep.clear();
        throw new IllegalStateException("filter bug");
      }
    }));
    registry.register(TestPlugins.factory("throwing-scorer", spec -> new FixedScorer(spec.typedName(), null)));
    registry.register(TestPlugins.factory("throwing-picker", spec -> new BrokenPicker(spec.typedName(), true)));
    Scheduler scheduler = scheduler(HEADER + """
        plugins:
        - type: throwing-filter
        - type: throwing-scorer
        - type: queue-scorer
        - type: throwing-picker
        """);
    EndpointPool pool = new EndpointPool();
    pod(pool, 0, 5, 0);
    pod(pool, 1, 1, 0);
    pod(pool, 2, 9, 0);
    for (int i = 0; i < 3; i++) {
      assertEquals("192.168.1.2:8000", route(scheduler, pool, "m"));
    }
  }

  @Test
  void pickerReturningInvalidIndexesFallsBackToTheHighestScore() {
    registry.register(TestPlugins.factory("bad-picker", spec -> new BrokenPicker(spec.typedName(), false)));
    Scheduler scheduler = scheduler(HEADER + "plugins:\n- type: queue-scorer\n- type: bad-picker\n");
    EndpointPool pool = new EndpointPool();
    pod(pool, 0, 5, 0);
    pod(pool, 1, 9, 0);
    pod(pool, 2, 1, 0);
    assertEquals("192.168.1.3:8000", route(scheduler, pool, "m"));
  }

  @Test
  void misbehavingProfileHandlerIsAnInternalError() {
    registry.register(TestPlugins.factory("endless-handler", spec -> new ProfileHandler() {
      @Override
      public TypedName typedName() {
        return spec.typedName();
      }

      @Override
      public List<String> pickProfiles(RequestContext c, List<String> profiles, Map<String, ProfileResult> r) {
        return List.of("nope");
      }

      @Override
      public SchedulingResult processResults(RequestContext c, Map<String, ProfileResult> r) {
        throw new AssertionError("not reached");
      }
    }));
    Scheduler scheduler = scheduler(HEADER + "plugins:\n- type: endless-handler\n- type: queue-scorer\n");
    EndpointPool pool = new EndpointPool();
    pod(pool, 0, 0, 0);
    InferenceException e = assertThrows(InferenceException.class,
        () -> scheduler.schedule(request("m"), pool.snapshot()));
    assertEquals(Code.INTERNAL, e.code());
    assertTrue(e.getMessage().contains("unknown profile 'nope'"), e.getMessage());
  }

  @Test
  void multipleProfilesRunAndTheHandlerNamesThePrimary() {
    Scheduler scheduler = scheduler(HEADER + """
        plugins:
        - type: test-profile-handler
        - type: test-filter
        - type: queue-scorer
        schedulingProfiles:
        - name: prefill
          plugins:
          - pluginRef: test-filter
        - name: decode
          plugins:
          - pluginRef: queue-scorer
        """);
    EndpointPool pool = new EndpointPool();
    pod(pool, 0, 5, 0);
    pod(pool, 1, 0, 0);
    SchedulingResult result = scheduler.schedule(request("m"), pool.snapshot());
    assertEquals("prefill", result.primaryProfile());
    assertEquals("pod-0-rank-0", result.profileResults().get("prefill").targets().get(0).name());
    assertEquals("pod-1-rank-0", result.profileResults().get("decode").targets().get(0).name());
  }

  @Test
  void concurrentSchedulingGivesEveryThreadTheRightAnswer() throws Exception {
    Scheduler scheduler = scheduler(HERMETIC_CONFIG);
    List<EndpointPool> pools = new ArrayList<>();
    for (int t = 0; t < 8; t++) {
      EndpointPool pool = new EndpointPool();
      for (int i = 0; i < 10 + t * 7; i++) {
        pod(pool, i, i == t ? 0 : 5 + i, 0.5); // pod t has the shortest queue
      }
      pools.add(pool);
    }
    ExecutorService executor = Executors.newFixedThreadPool(8);
    try {
      List<Future<Boolean>> results = new ArrayList<>();
      for (int t = 0; t < 8; t++) {
        int expected = t;
        results.add(executor.submit(() -> {
          for (int i = 0; i < 2000; i++) {
            String name = scheduler.schedule(request("m"), pools.get(expected).snapshot()).targets().get(0).name();
            if (!name.equals("pod-" + expected + "-rank-0")) {
              return false;
            }
          }
          return true;
        }));
      }
      for (Future<Boolean> result : results) {
        assertTrue(result.get());
      }
    } finally {
      executor.shutdownNow();
    }
  }

  @Test
  void requestStateFlowsFromTheContextToPlugins() {
    StateKey<String> key = StateKey.of("note", String.class);
    RequestContext context = request("m");
    context.put(key, "prepared");
    context.put(key, "replaced");
    assertEquals("replaced", context.get(key));
    assertEquals(null, context.get(StateKey.of("note", String.class)));
  }

  /** Writes fixed scores; throws when given none. */
  record FixedScorer(TypedName typedName, double[] values) implements Scorer {
    @Override
    public void score(RequestContext context, Candidates candidates, double[] scores) {
      if (values == null) {
        throw new IllegalStateException("scorer bug");
      }
      System.arraycopy(values, 0, scores, 0, candidates.size());
    }
  }

  /** Keeps candidates at odd view indexes. */
  record DropEvenFilter(TypedName typedName) implements Filter {
    @Override
    public void filter(RequestContext context, Candidates candidates, BitSet keep) {
      for (int i = 0; i < candidates.size(); i += 2) {
        keep.clear(i);
      }
    }
  }

  /** A picker that throws, or returns a repeated out-of-range index. */
  record BrokenPicker(TypedName typedName, boolean throwing) implements Picker {
    @Override
    public int pick(RequestContext context, Candidates candidates, double[] scores, int[] picked) {
      if (throwing) {
        throw new IllegalStateException("picker bug");
      }
      picked[0] = candidates.size();
      picked[1] = candidates.size();
      return 2;
    }
  }

  /** A picker that records the total scores and positions it was given and picks the last candidate. */
  static final class Recorder implements Picker {
    private final TypedName typedName;
    volatile List<Double> lastScores;
    volatile List<Integer> lastPositions;

    Recorder(TypedName typedName) {
      this.typedName = typedName;
    }

    @Override
    public TypedName typedName() {
      return typedName;
    }

    @Override
    public int pick(RequestContext context, Candidates candidates, double[] scores, int[] picked) {
      List<Double> s = new ArrayList<>();
      List<Integer> p = new ArrayList<>();
      for (int i = 0; i < candidates.size(); i++) {
        s.add(scores[i]);
        p.add(candidates.position(i));
      }
      lastScores = s;
      lastPositions = p;
      picked[0] = candidates.size() - 1;
      return 1;
    }
  }
}
