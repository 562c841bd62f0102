package dev.epp.bench;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.scheduling.Candidates;
import dev.epp.scheduler.EndpointPool;
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

/**
 * What one scraped page costs the {@link EndpointPool} at 100, 1,000 and 5,000 endpoints: {@code update} is one
 * {@link EndpointPool#updateMetrics} (the scraper's write), {@code updateThenSnapshot} an update followed by a
 * {@link EndpointPool#snapshot()} (the worst case for the request path: a change between every two requests). The
 * telling figure is B/op.
 *
 * <p>Run: {@code java -jar epp-bench/target/benchmarks.jar PoolUpdateBenchmark -prof gc}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class PoolUpdateBenchmark {

  /** Endpoints in the pool. */
  @Param({"100", "1000", "5000"})
  public int endpoints;

  private final EndpointPool pool = new EndpointPool();
  private final EndpointMetrics[] metrics = new EndpointMetrics[2];
  private String[] names;
  private int next;

  /** Fills the pool. */
  @Setup
  public void setUp() {
    names = new String[endpoints];
    for (int i = 0; i < endpoints; i++) {
      names[i] = "pod-" + i + "-rank-0";
      pool.upsert(Endpoint.of(names[i], "10.0." + (i >> 8) + "." + (i & 255), 8000));
    }
    metrics[0] = EndpointMetrics.builder().waitingQueueSize(1).updatedNanos(1).build();
    metrics[1] = EndpointMetrics.builder().waitingQueueSize(2).updatedNanos(2).build();
  }

  /** One metrics update of the next endpoint in turn. */
  @Benchmark
  public boolean update() {
    int i = next++;
    return pool.updateMetrics(names[i % names.length], metrics[i & 1]);
  }

  /** One metrics update, then a snapshot as the next request would read it. */
  @Benchmark
  public Candidates updateThenSnapshot() {
    int i = next++;
    pool.updateMetrics(names[i % names.length], metrics[i & 1]);
    return pool.snapshot();
  }
}
