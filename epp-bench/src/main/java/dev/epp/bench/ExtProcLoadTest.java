package dev.epp.bench;

import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A bounded load test of the ext_proc server on loopback: keeps {@code --concurrency} full exchanges in flight for
 * {@code --seconds}, then prints throughput, latency percentiles and the process CPU time per exchange (client and
 * server together, so the EPP's share is its difference from a baseline), for the EPP and for the baselines of
 * {@link ExtProcBenchmark}.
 *
 * <p>Run: {@code java -cp epp-bench/target/benchmarks.jar dev.epp.bench.ExtProcLoadTest --seconds 10 --concurrency 64}
 */
public final class ExtProcLoadTest {

  private static final com.sun.management.OperatingSystemMXBean OS =
      (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

  private ExtProcLoadTest() {}

  /** Runs the test; see the class comment for the flags. */
  public static void main(String[] args) throws Exception {
    int seconds = 10;
    int concurrency = 64;
    for (int i = 0; i + 1 < args.length; i += 2) {
      switch (args[i]) {
        case "--seconds" -> seconds = Integer.parseInt(args[i + 1]);
        case "--concurrency" -> concurrency = Integer.parseInt(args[i + 1]);
        default -> throw new IllegalArgumentException("unknown flag " + args[i]);
      }
    }
    for (String processor : new String[] {"noop", "replay", "epp"}) {
      try (LoopbackEpp loopback = new LoopbackEpp(processor)) {
        run(loopback, Math.min(3, seconds), concurrency); // warm-up
        long cpuBefore = OS.getProcessCpuTime();
        long[] latencies = run(loopback, seconds, concurrency);
        long cpu = OS.getProcessCpuTime() - cpuBefore;
        Arrays.sort(latencies);
        System.out.printf("%-6s concurrency %d: %,.0f requests/s, p50 %.2f ms, p99 %.2f ms, max %.2f ms, "
                + "CPU %.0f µs/request%n",
            processor, concurrency, latencies.length / (double) seconds,
            percentile(latencies, 0.50), percentile(latencies, 0.99), latencies[latencies.length - 1] / 1e6,
            cpu / 1e3 / latencies.length);
      }
    }
  }

  /** Latencies in nanoseconds of every exchange completed within {@code seconds}. */
  private static long[] run(LoopbackEpp loopback, int seconds, int concurrency) throws InterruptedException {
    Semaphore inFlight = new Semaphore(concurrency);
    long[] latencies = new long[4_000_000];
    AtomicLong count = new AtomicLong();
    AtomicLong errors = new AtomicLong();
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (System.nanoTime() < end) {
      if (!inFlight.tryAcquire(100, TimeUnit.MILLISECONDS)) {
        continue;
      }
      long start = System.nanoTime();
      loopback.send().whenComplete((responses, error) -> {
        if (error != null) {
          errors.incrementAndGet();
        } else {
          long n = count.getAndIncrement();
          if (n < latencies.length) {
            latencies[(int) n] = System.nanoTime() - start;
          }
        }
        inFlight.release();
      });
    }
    inFlight.acquire(concurrency);
    if (errors.get() > 0) {
      throw new IllegalStateException(errors.get() + " exchanges failed");
    }
    return Arrays.copyOf(latencies, (int) Math.min(count.get(), latencies.length));
  }

  private static double percentile(long[] sorted, double p) {
    return sorted[Math.min(sorted.length - 1, (int) (p * sorted.length))] / 1e6;
  }
}
