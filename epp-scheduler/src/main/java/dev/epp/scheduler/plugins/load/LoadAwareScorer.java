package dev.epp.scheduler.plugins.load;

import dev.epp.api.EndpointMetrics;
import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.TypedName;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.Scorer;

/**
 * Scores candidates by their scraped waiting queue against a fixed threshold: llm-d's {@code load-aware-scorer}.
 * {@code score = 0.5 × (1 - min(q, threshold) / threshold)} where {@code q} is the candidate's
 * {@link EndpointMetrics#waitingQueueSize()}: 0.5 for an empty queue, 0 at or above the threshold.
 *
 * <p>Parameters: {@code threshold} (integer, default 128): above 0 (llm-d falls back to the default instead).
 */
public final class LoadAwareScorer implements Scorer {

  /** The plugin type. */
  public static final String TYPE = "load-aware-scorer";

  private static final String THRESHOLD = "threshold";

  private final TypedName typedName;
  private final double threshold;

  /**
   * A scorer named {@code name} configured by {@code parameters}.
   *
   * @throws PluginConfigException if a parameter is invalid
   */
  public LoadAwareScorer(String name, Parameters parameters) {
    this.typedName = new TypedName(TYPE, name);
    int threshold = parameters.getInt(THRESHOLD, 128);
    if (threshold <= 0) {
      throw parameters.invalid(THRESHOLD, "must be greater than 0, got " + threshold);
    }
    this.threshold = threshold;
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public void score(RequestContext context, Candidates candidates, double[] scores) {
    for (int i = 0; i < candidates.size(); i++) {
      double waiting = Math.min(candidates.metrics(i).waitingQueueSize(), threshold);
      scores[i] = 0.5 * (1.0 - waiting / threshold);
    }
  }

  /** Creates {@link LoadAwareScorer}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public LoadAwareScorer create(PluginSpec spec, PluginHandle handle) {
      return new LoadAwareScorer(spec.name(), spec.parameters());
    }
  }
}
