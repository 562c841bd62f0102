package dev.epp.bench;

import dev.epp.api.Endpoint;
import dev.epp.api.InferenceRequest;
import dev.epp.api.MetricsRecorder;
import dev.epp.api.RequestBody;
import dev.epp.api.RequestContext;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.ProfileResult;
import dev.epp.api.scheduling.SchedulingResult;
import dev.epp.api.requestcontrol.PrepareData;
import dev.epp.scheduler.Director;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.scheduler.EndpointPool;
import dev.epp.scheduler.Scheduler;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * One scheduling decision with the default configuration over a pool with skewed load, against the same decision
 * with llm-d's optimized baseline ({@code optimized}), with only {@code random-picker} (the baseline: the framework's
 * fixed cost, no scoring), and against building only the objects a decision returns ({@code resultOnly}, the
 * allocation baseline). The scheduler alone runs: no producer has prepared data (that is the Director's step), so
 * the prefix scorer and the affinity filter see no prefix match (the filter keeps every pod) and the in-flight loads
 * are 0. {@code optimized-sticky} is the optimized baseline on its sticky path: eight prompts sharing most of their
 * text were routed and completed through a {@link Director} at setup (so their blocks are indexed and nothing is in
 * flight), and each operation runs the producers' {@code prepareData} for the next of them before scheduling it, so
 * the affinity filter finds sticky pods and runs its load gate. {@code pd} is llm-d's prefill/decode sample over a
 * pool whose every fourth pod prefills, for an 800-character prompt nothing has indexed: each operation runs the
 * producers' {@code prepareData} first, and both profiles run (the decider finds the prompt uncached). The precise
 * prefix-cache sample ({@code examples/configs/precise-prefix.yaml}) is not measured here: its {@code token-producer}
 * asks a vLLM server to tokenize each prompt.
 *
 * <p>Run: {@code java -jar epp-bench/target/benchmarks.jar SchedulerBenchmark -prof gc}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class SchedulerBenchmark {

  private static final String MODEL = "base-model";
  private static final String PROMPT = "Summarise the following text in three sentences.";
  private static final int STICKY_PROMPTS = 8;

  /** Endpoints in the pool. */
  @Param({"5", "25", "100", "1000", "5000"})
  public int endpoints;

  /** Which configuration schedules. */
  @Param({"default", "optimized", "optimized-sticky", "pd", "random"})
  public String config;

  private Scheduler scheduler;
  private Candidates candidates;
  private InferenceRequest request;
  /** {@code optimized-sticky} and {@code pd}: producers that run before each decision; the prompts they cycle. */
  private List<PrepareData> producers = List.of();
  private InferenceRequest[] sticky;
  private int next;

  /** Builds the pool and the scheduler; for {@code optimized-sticky}, indexes the prompts through a director. */
  @Setup
  public void setUp() {
    EndpointPool pool = config.equals("pd") ? Workloads.pdPool(endpoints) : Workloads.pool(endpoints);
    candidates = pool.snapshot();
    EndpointPickerConfig configuration = Workloads.config(config, MetricsRecorder.noop());
    scheduler = new Scheduler(configuration);
    request = request(PROMPT);
    if (config.equals("optimized-sticky")) {
      producers = configuration.plugins(PrepareData.class);
      Director director = Director.builder(configuration, pool).build();
      sticky = new InferenceRequest[STICKY_PROMPTS];
      for (int i = 0; i < STICKY_PROMPTS; i++) {
        String prompt = Workloads.text(1600, 7) + Workloads.text(200, 100 + i);
        sticky[i] = request(prompt);
        director.finish(director.route(Map.of(":path", "/v1/completions"),
            ("{\"model\":\"" + MODEL + "\",\"prompt\":\"" + prompt + "\"}").getBytes(StandardCharsets.UTF_8),
            null));
      }
      request = sticky[0];
    } else if (config.equals("pd")) {
      producers = configuration.plugins(PrepareData.class);
      sticky = new InferenceRequest[] {request(Workloads.text(800, 7))};
    }
  }

  private static InferenceRequest request(String prompt) {
    return InferenceRequest.builder().requestId("bench").model(MODEL).body(RequestBody.completion(prompt)).build();
  }

  /** Schedules one request (for {@code optimized-sticky} and {@code pd}, after their producers prepared its data). */
  @Benchmark
  public SchedulingResult schedule() {
    RequestContext context;
    if (sticky == null) {
      context = new RequestContext(request);
    } else {
      context = new RequestContext(sticky[next]);
      next = (next + 1) % sticky.length;
      for (int i = 0; i < producers.size(); i++) {
        producers.get(i).prepareData(context, candidates);
      }
    }
    return scheduler.schedule(context, candidates);
  }

  /**
   * The allocation baseline: what {@link #schedule} creates for its caller, built directly (a request context, and a
   * result with one profile that picked one endpoint). {@code schedule}'s B/op minus this is what the framework
   * allocates itself.
   */
  @Benchmark
  public SchedulingResult resultOnly(Blackhole blackhole) {
    RequestContext context = new RequestContext(request);
    blackhole.consume(context);
    Endpoint picked = candidates.endpoint(candidates.size() - 1);
    return new SchedulingResult("default", Map.of("default", new ProfileResult(List.of(picked))));
  }
}
