package dev.epp.bench;

import java.util.Arrays;

/** Latencies recorded by the load tests' threads, and their percentiles. Thread-safe. */
final class Latencies {

  private long[] nanos = new long[1 << 12];
  private int count;

  /** Records one latency. */
  synchronized void add(long latencyNanos) {
    if (count == nanos.length) {
      nanos = Arrays.copyOf(nanos, count * 2);
    }
    nanos[count++] = latencyNanos;
  }

  /** How many were recorded. */
  synchronized int count() {
    return count;
  }

  /** The {@code p} quantile (1.0 is the maximum) in milliseconds; {@code NaN} if none was recorded. */
  synchronized double percentileMillis(double p) {
    if (count == 0) {
      return Double.NaN;
    }
    long[] sorted = Arrays.copyOf(nanos, count);
    Arrays.sort(sorted);
    return sorted[Math.min(count - 1, (int) (p * count))] / 1e6;
  }
}
