package dev.epp.bench;

import dev.epp.api.Endpoint;
import dev.epp.api.InferenceRequest;
import dev.epp.api.MetricsRecorder;
import dev.epp.api.RequestBody;
import dev.epp.api.RequestContext;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.ProfileResult;
import dev.epp.api.scheduling.SchedulingResult;
import dev.epp.scheduler.Scheduler;
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
 * are 0.
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

  /** Endpoints in the pool. */
  @Param({"5", "25", "100", "1000"})
  public int endpoints;

  /** Which configuration schedules. */
  @Param({"default", "optimized", "random"})
  public String config;

  private Scheduler scheduler;
  private Candidates candidates;
  private InferenceRequest request;

  /** Builds the pool and the scheduler. */
  @Setup
  public void setUp() {
    candidates = Workloads.pool(endpoints).snapshot();
    scheduler = new Scheduler(Workloads.config(config, MetricsRecorder.noop()));
    request = InferenceRequest.builder()
        .requestId("bench")
        .model("base-model")
        .body(RequestBody.completion("Summarise the following text in three sentences."))
        .build();
  }

  /** Schedules one request. */
  @Benchmark
  public SchedulingResult schedule() {
    return scheduler.schedule(new RequestContext(request), candidates);
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
