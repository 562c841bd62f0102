package dev.epp.scheduler.plugins.picker;

import dev.epp.api.Parameters;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.TypedName;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.Picker;
import java.util.random.RandomGenerator;

/**
 * Picks distinct candidates at random with probability proportional to their total scores, by weighted sampling
 * without replacement (A-Res): each candidate gets the key {@code U^(1/score)} with {@code U} uniform in (0, 1) (a
 * drawn 0 is replaced by 1e-10), a score of 0 or less gets the lowest key, and the highest keys win. When no score is
 * positive it picks uniformly at random, like {@code random-picker}.
 *
 * <p>Parameter {@code maxNumOfEndpoints} (default 1; values below 1 mean 1): how many endpoints to return. Returns
 * {@code min(maxNumOfEndpoints, candidates.size())} indexes.
 *
 * <p>Differs from Go: keys are compared as {@code ln(U) / score}, which orders them identically but cannot underflow
 * to 0 for tiny scores, so a positive score always outranks a non-positive one.
 */
public final class WeightedRandomPicker implements Picker {

  /** The plugin type. */
  public static final String TYPE = "weighted-random-picker";

  private static final ThreadLocal<double[]> KEYS = ThreadLocal.withInitial(() -> new double[64]);

  private final TypedName typedName;
  private final int maxNumOfEndpoints;
  private final RandomGenerator random;

  /**
   * A picker named {@code name} configured by {@code parameters}.
   *
   * @param random the thread-safe source of its random choices
   */
  public WeightedRandomPicker(String name, Parameters parameters, RandomGenerator random) {
    this.typedName = new TypedName(TYPE, name);
    this.maxNumOfEndpoints = Picks.maxNumOfEndpoints(parameters);
    this.random = random;
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public int pick(RequestContext context, Candidates candidates, double[] scores, int[] picked) {
    int n = candidates.size();
    int k = Math.min(maxNumOfEndpoints, n);
    if (!anyPositive(scores, n)) {
      Picks.randomSample(random, picked, n, k);
      return k;
    }
    if (k == 1) {
      int chosen = -1;
      double bestKey = Double.NEGATIVE_INFINITY;
      for (int i = 0; i < n; i++) {
        if (scores[i] > 0) {
          double key = key(random, scores[i]);
          if (chosen < 0 || key > bestKey) {
            chosen = i;
            bestKey = key;
          }
        }
      }
      picked[0] = chosen;
      return 1;
    }
    double[] keys = keys(n);
    for (int i = 0; i < n; i++) {
      keys[i] = scores[i] > 0 ? key(random, scores[i]) : Double.NEGATIVE_INFINITY;
    }
    Picks.topK(random, keys, picked, n, k);
    return k;
  }

  /** {@code ln(U^(1/score))}, kept finite so it always exceeds a non-positive score's key. */
  private static double key(RandomGenerator random, double score) {
    double u = random.nextDouble();
    if (u == 0) {
      u = 1e-10;
    }
    return Math.max(Math.log(u) / score, -Double.MAX_VALUE);
  }

  private static boolean anyPositive(double[] scores, int n) {
    for (int i = 0; i < n; i++) {
      if (scores[i] > 0) {
        return true;
      }
    }
    return false;
  }

  private static double[] keys(int n) {
    double[] keys = KEYS.get();
    if (keys.length < n) {
      keys = new double[Math.max(n, 2 * keys.length)];
      KEYS.set(keys);
    }
    return keys;
  }

  /** Creates {@link WeightedRandomPicker}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public WeightedRandomPicker create(PluginSpec spec, PluginHandle handle) {
      return new WeightedRandomPicker(spec.name(), spec.parameters(), handle.random());
    }
  }
}
