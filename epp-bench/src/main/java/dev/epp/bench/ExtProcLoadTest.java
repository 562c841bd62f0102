package dev.epp.bench;

import java.lang.management.ManagementFactory;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A bounded load test of the ext_proc server on loopback: keeps {@code --concurrency} full exchanges (those of
 * {@link ExtProcBenchmark}) in flight against the EPP and against its {@code replay} and {@code noop} baselines, taking
 * turns in one-second slices for {@code --seconds} each, so that a shared machine's changing load falls on all three
 * alike. Prints each one's throughput, latency percentiles and process CPU time per exchange (client and server
 * together, so the EPP's share is its difference from a baseline), then the EPP's ratios to {@code replay}. With
 * {@code --concurrency 1} it measures sequential round trips. {@code --body-bytes N} sends an agent's chat request of
 * N bytes ({@link Workloads#chatRequest(int)}, in chunks of {@value LoopbackEpp#CHUNK_BYTES} bytes as Envoy sends
 * them) instead of the 800-character one; {@code --config} picks the EPP's configuration ({@code default},
 * {@code optimized}; see {@link Workloads#config}).
 *
 * <p>Run: {@code java -cp epp-bench/target/benchmarks.jar dev.epp.bench.ExtProcLoadTest --seconds 10 --concurrency 16}
 * or, for 100k-token prompts, {@code ... --concurrency 16 --body-bytes 400000 --config optimized}
 */
public final class ExtProcLoadTest {

  private static final com.sun.management.OperatingSystemMXBean OS =
      (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
  private static final String[] PROCESSORS = {"noop", "replay", "epp"};
  private static final int WARM_UP_SLICES = 3;

  private ExtProcLoadTest() {}

  /** Runs the test; see the class comment for the flags. */
  public static void main(String[] args) throws Exception {
    int seconds = 10;
    int concurrency = 64;
    byte[] body = Workloads.chatRequest();
    String config = "default";
    for (int i = 0; i + 1 < args.length; i += 2) {
      switch (args[i]) {
        case "--seconds" -> seconds = Integer.parseInt(args[i + 1]);
        case "--concurrency" -> concurrency = Integer.parseInt(args[i + 1]);
        case "--body-bytes" -> body = Workloads.chatRequest(Integer.parseInt(args[i + 1]));
        case "--config" -> config = args[i + 1];
        default -> throw new IllegalArgumentException("unknown flag " + args[i]);
      }
    }
    LoopbackEpp[] servers = new LoopbackEpp[PROCESSORS.length];
    Result[] results = new Result[PROCESSORS.length];
    try {
      for (int p = 0; p < PROCESSORS.length; p++) {
        servers[p] = new LoopbackEpp(PROCESSORS[p], config, body);
        results[p] = new Result();
      }
      for (int slice = 0; slice < WARM_UP_SLICES + seconds; slice++) {
        for (int p = 0; p < PROCESSORS.length; p++) {
          Result sliceResult = slice < WARM_UP_SLICES ? new Result() : results[p];
          run(servers[p], concurrency, sliceResult);
        }
      }
    } finally {
      for (LoopbackEpp server : servers) {
        if (server != null) {
          server.close();
        }
      }
    }
    System.out.printf("%d-byte chat requests, configuration %s%n", body.length, config);
    for (int p = 0; p < PROCESSORS.length; p++) {
      Result r = results[p];
      System.out.printf("%-6s concurrency %d: %,.0f requests/s, p50 %.3f ms, p99 %.3f ms, max %.3f ms, "
              + "CPU %.0f µs/request%n",
          PROCESSORS[p], concurrency, r.count() / (double) seconds, r.percentile(0.50), r.percentile(0.99),
          r.percentile(1.0), r.cpuPerRequestMicros());
    }
    Result replay = results[1];
    Result epp = results[2];
    System.out.printf("epp / replay: throughput %.2f, p50 %.2f, p99 %.2f, CPU per request %.2f%n",
        epp.count() / (double) replay.count(), epp.percentile(0.50) / replay.percentile(0.50),
        epp.percentile(0.99) / replay.percentile(0.99), epp.cpuPerRequestMicros() / replay.cpuPerRequestMicros());
  }

  /** Keeps {@code concurrency} exchanges in flight for one second and adds them to {@code result}. */
  private static void run(LoopbackEpp loopback, int concurrency, Result result) throws InterruptedException {
    Semaphore inFlight = new Semaphore(concurrency);
    AtomicLong errors = new AtomicLong();
    long cpuBefore = OS.getProcessCpuTime();
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
    while (System.nanoTime() < end) {
      if (!inFlight.tryAcquire(100, TimeUnit.MILLISECONDS)) {
        continue;
      }
      long start = System.nanoTime();
      loopback.send().whenComplete((responses, error) -> {
        if (error != null) {
          errors.incrementAndGet();
        } else {
          result.latencies.add(System.nanoTime() - start);
        }
        inFlight.release();
      });
    }
    inFlight.acquire(concurrency);
    result.cpuNanos += OS.getProcessCpuTime() - cpuBefore;
    if (errors.get() > 0) {
      throw new IllegalStateException(errors.get() + " exchanges failed");
    }
  }

  /** The latencies and CPU time of one processor's exchanges. */
  private static final class Result {
    private final Latencies latencies = new Latencies();
    private long cpuNanos;

    double percentile(double p) {
      return latencies.percentileMillis(p);
    }

    int count() {
      return latencies.count();
    }

    double cpuPerRequestMicros() {
      return cpuNanos / 1e3 / count();
    }
  }
}
