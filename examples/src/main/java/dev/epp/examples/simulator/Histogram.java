package dev.epp.examples.simulator;

/**
 * A Prometheus histogram: cumulative bucket counts, sum and count. Not thread-safe.
 */
final class Histogram {

  /** vLLM's {@code time_to_first_token_seconds} buckets. */
  static final double[] TTFT = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0,
      7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
  /** vLLM's {@code inter_token_latency_seconds} buckets. */
  static final double[] INTER_TOKEN = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
      5.0, 7.5, 10.0, 20.0, 40.0, 80.0};
  /** vLLM's request latency buckets ({@code e2e_request_latency_seconds}, {@code request_queue_time_seconds}). */
  static final double[] LATENCY = {0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0,
      120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};

  private final double[] bounds;
  private final long[] counts;
  private double sum;
  private long count;

  Histogram(double[] bounds) {
    this.bounds = bounds;
    this.counts = new long[bounds.length];
  }

  /** Records {@code times} observations of {@code value}. */
  void observe(double value, long times) {
    for (int i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]) {
        counts[i] += times;
      }
    }
    sum += value * times;
    count += times;
  }

  double[] bounds() {
    return bounds;
  }

  /** Observations at or below {@code bounds()[i]}. */
  long cumulativeCount(int i) {
    return counts[i];
  }

  double sum() {
    return sum;
  }

  long count() {
    return count;
  }
}
