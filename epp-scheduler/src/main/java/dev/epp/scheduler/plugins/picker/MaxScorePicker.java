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
 * Picks the candidates with the highest total scores, highest first; candidates with equal scores are ordered
 * uniformly at random.
 *
 * <p>Parameter {@code maxNumOfEndpoints} (default 1; values below 1 mean 1): how many endpoints to return, the
 * primary followed by fallbacks. Returns {@code min(maxNumOfEndpoints, candidates.size())} indexes.
 *
 * <p>Same outcome distribution as Go's shuffle and stable sort; for one endpoint a single pass with reservoir
 * sampling over the ties replaces the sort.
 */
public final class MaxScorePicker implements Picker {

  /** The plugin type. */
  public static final String TYPE = "max-score-picker";

  private final TypedName typedName;
  private final int maxNumOfEndpoints;
  private final RandomGenerator random;

  /**
   * A picker named {@code name} configured by {@code parameters}.
   *
   * @param random the thread-safe source of its random choices
   */
  public MaxScorePicker(String name, Parameters parameters, RandomGenerator random) {
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
    if (n == 0) {
      return 0;
    }
    if (maxNumOfEndpoints == 1) {
      picked[0] = argMaxRandomTie(scores, n);
      return 1;
    }
    int k = Math.min(maxNumOfEndpoints, n);
    Picks.topK(random, scores, picked, n, k);
    return k;
  }

  private int argMaxRandomTie(double[] scores, int n) {
    int chosen = 0;
    double best = scores[0];
    int ties = 1;
    for (int i = 1; i < n; i++) {
      double score = scores[i];
      if (score > best) {
        chosen = i;
        best = score;
        ties = 1;
      } else if (score == best && random.nextInt(++ties) == 0) {
        chosen = i; // reservoir sampling: each of the ties seen so far is kept with probability 1/ties
      }
    }
    return chosen;
  }

  /** Creates {@link MaxScorePicker}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public MaxScorePicker create(PluginSpec spec, PluginHandle handle) {
      return new MaxScorePicker(spec.name(), spec.parameters(), handle.random());
    }
  }
}
