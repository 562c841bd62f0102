package dev.epp.scheduler.plugins.picker;

import dev.epp.api.Parameters;
import java.util.random.RandomGenerator;

/** Allocation-free selection over candidate indexes, and the pickers' shared parameter. */
final class Picks {

  /** The pickers' parameter: how many endpoints to return (primary plus fallbacks). */
  static final String MAX_NUM_OF_ENDPOINTS = "maxNumOfEndpoints";

  private Picks() {}

  /** Reads {@link #MAX_NUM_OF_ENDPOINTS}: default 1, and values below 1 mean 1, as in Go. */
  static int maxNumOfEndpoints(Parameters parameters) {
    return Math.max(1, parameters.getInt(MAX_NUM_OF_ENDPOINTS, 1));
  }

  /**
   * Writes {@code k} distinct indexes of {@code 0..n-1}, chosen uniformly at random, into {@code picked[0..k-1]}
   * (partial Fisher-Yates; {@code picked[k..n-1]} holds the rest).
   */
  static void randomSample(RandomGenerator random, int[] picked, int n, int k) {
    for (int i = 0; i < n; i++) {
      picked[i] = i;
    }
    for (int i = 0; i < k; i++) {
      int j = i + random.nextInt(n - i);
      int t = picked[i];
      picked[i] = picked[j];
      picked[j] = t;
    }
  }

  /**
   * Writes into {@code picked[0..k-1]} the indexes of the {@code k} largest {@code values[0..n-1]}, largest first,
   * with ties broken uniformly at random: a full shuffle followed by a stable selection, like Go's shuffle and
   * stable sort. O(n·k), which is cheap for the small {@code k} pickers use.
   */
  static void topK(RandomGenerator random, double[] values, int[] picked, int n, int k) {
    for (int i = 0; i < n; i++) { // inside-out Fisher-Yates
      int j = random.nextInt(i + 1);
      picked[i] = picked[j];
      picked[j] = i;
    }
    for (int pos = 0; pos < k; pos++) {
      int best = pos;
      for (int j = pos + 1; j < n; j++) {
        if (values[picked[j]] > values[picked[best]]) {
          best = j;
        }
      }
      int chosen = picked[best];
      System.arraycopy(picked, pos, picked, pos + 1, best - pos); // keep the rest in order: stable
      picked[pos] = chosen;
    }
  }
}
