package dev.epp.scheduler.plugins.load;

import dev.epp.api.EndpointMetrics;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.TypedName;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.Scorer;

/**
 * Prefers candidates with short waiting queues: {@code score = (max - q) / (max - min)} where {@code q} is a
 * candidate's {@link EndpointMetrics#waitingQueueSize()} and min/max are taken over the candidates; 1.0 for every
 * candidate when all queues are equal. No parameters.
 */
public final class QueueScorer implements Scorer {

  /** The plugin type. */
  public static final String TYPE = "queue-scorer";

  private final TypedName typedName;

  /** A scorer named {@code name}. */
  public QueueScorer(String name) {
    this.typedName = new TypedName(TYPE, name);
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public void score(RequestContext context, Candidates candidates, double[] scores) {
    MinMaxScores.score(candidates, scores, EndpointMetrics::waitingQueueSize);
  }

  /** Creates {@link QueueScorer}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public QueueScorer create(PluginSpec spec, PluginHandle handle) {
      return new QueueScorer(spec.name());
    }
  }
}
