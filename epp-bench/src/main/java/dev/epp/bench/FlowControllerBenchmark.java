package dev.epp.bench;

import dev.epp.scheduler.flowcontrol.FlowControlConfig;
import dev.epp.scheduler.flowcontrol.FlowController;
import dev.epp.scheduler.flowcontrol.FlowKey;
import dev.epp.scheduler.flowcontrol.FlowRequest;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Flow-control throughput on two threads: each operation enqueues a request of one of {@code flows} tenants, which is
 * dispatched before {@code enqueue} returns. {@code held=0}: the pool is never saturated, so the queue stays empty.
 * {@code held=10000}: 10,000 requests are held (no TTL) and the pool counts as saturated whenever no more than that
 * are queued, so each operation dispatches the band's oldest request from a queue 10,000 deep, with
 * {@code global-strict-fairness-policy} comparing the heads of every flow.
 *
 * <p>Run: {@code java -jar epp-bench/target/benchmarks.jar FlowControllerBenchmark -prof gc}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Threads(2)
@Fork(1)
public class FlowControllerBenchmark {

  /** Requests held in the queue while measuring. */
  @Param({"0", "10000"})
  public int held;

  /** Distinct fairness ids. */
  @Param({"1", "100"})
  public int flows;

  private ScheduledExecutorService scheduler;
  private FlowController controller;
  private FlowKey[] keys;

  @Setup(Level.Trial)
  public void setUp() {
    scheduler = Executors.newSingleThreadScheduledExecutor();
    keys = new FlowKey[flows];
    for (int i = 0; i < flows; i++) {
      keys[i] = new FlowKey("tenant-" + i, 0);
    }
    FlowControlConfig config = FlowControlConfig.defaults()
        .withTtls(Duration.ZERO, Duration.ZERO)
        .withBands(FlowControlConfig.Band.of(0), null, List.of(new FlowControlConfig.Band(0, 1_000_000, 0, null, null)));
    int threshold = held;
    FlowController[] self = new FlowController[1];
    controller = FlowController.builder()
        .config(config)
        .saturationSource(threshold == 0 ? () -> 0.5 : () -> self[0].queuedRequests() > threshold ? 0.5 : 1.0)
        .scheduler(scheduler)
        .build();
    self[0] = controller;
    for (int i = 0; i < held; i++) {
      controller.enqueue(FlowRequest.of(keys[i % flows], 1000, System.nanoTime()));
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    controller.close();
    scheduler.shutdownNow();
  }

  /** Enqueue and dispatch of one request. */
  @Benchmark
  public Object enqueueAndDispatch() {
    FlowKey key = keys[ThreadLocalRandom.current().nextInt(keys.length)];
    return controller.enqueue(FlowRequest.of(key, 1000, System.nanoTime())).outcome().getNow(null);
  }
}
