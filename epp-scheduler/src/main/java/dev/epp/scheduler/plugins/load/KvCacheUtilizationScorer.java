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
 * Prefers candidates with free KV cache: {@code score = 1 - }{@link EndpointMetrics#kvCacheUsage()}. No parameters.
 */
public final class KvCacheUtilizationScorer implements Scorer {

  /** The plugin type. */
  public static final String TYPE = "kv-cache-utilization-scorer";

  private final TypedName typedName;

  /** A scorer named {@code name}. */
  public KvCacheUtilizationScorer(String name) {
    this.typedName = new TypedName(TYPE, name);
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public void score(RequestContext context, Candidates candidates, double[] scores) {
    for (int i = 0, n = candidates.size(); i < n; i++) {
      scores[i] = 1.0 - candidates.metrics(i).kvCacheUsage();
    }
  }

  /** Creates {@link KvCacheUtilizationScorer}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public KvCacheUtilizationScorer create(PluginSpec spec, PluginHandle handle) {
      return new KvCacheUtilizationScorer(spec.name());
    }
  }
}
