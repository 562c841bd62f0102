package dev.epp.scheduler.plugins.load;

import dev.epp.api.EndpointMetrics;
import dev.epp.api.scheduling.Candidates;
import java.util.function.ToIntFunction;

/** Inverted min-max normalisation of one integer metric, shared by the load scorers. */
final class MinMaxScores {

  private MinMaxScores() {}

  /**
   * Writes {@code (max - v) / (max - min)} over the candidates' values of {@code metric}, or 1.0 for every candidate
   * when all values are equal, so the least-loaded candidate scores 1 and the most-loaded 0.
   */
  static void score(Candidates candidates, double[] scores, ToIntFunction<EndpointMetrics> metric) {
    int n = candidates.size();
    int min = Integer.MAX_VALUE;
    int max = Integer.MIN_VALUE;
    for (int i = 0; i < n; i++) {
      int value = metric.applyAsInt(candidates.metrics(i));
      min = Math.min(min, value);
      max = Math.max(max, value);
    }
    double range = (double) max - min;
    for (int i = 0; i < n; i++) {
      scores[i] = max > min ? (max - metric.applyAsInt(candidates.metrics(i))) / range : 1.0;
    }
  }
}
