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
 * Picks distinct candidates uniformly at random, ignoring scores.
 *
 * <p>Parameter {@code maxNumOfEndpoints} (default 1; values below 1 mean 1): how many endpoints to return. Returns
 * {@code min(maxNumOfEndpoints, candidates.size())} indexes.
 */
public final class RandomPicker implements Picker {

  /** The plugin type. */
  public static final String TYPE = "random-picker";

  private final TypedName typedName;
  private final int maxNumOfEndpoints;
  private final RandomGenerator random;

  /**
   * A picker named {@code name} configured by {@code parameters}.
   *
   * @param random the thread-safe source of its random choices
   */
  public RandomPicker(String name, Parameters parameters, RandomGenerator random) {
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
    Picks.randomSample(random, picked, n, k);
    return k;
  }

  /** Creates {@link RandomPicker}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public RandomPicker create(PluginSpec spec, PluginHandle handle) {
      return new RandomPicker(spec.name(), spec.parameters(), handle.random());
    }
  }
}
