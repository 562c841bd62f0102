package dev.epp.scheduler.plugins.prefix;

import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.TypedName;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.Scorer;

/**
 * Prefers candidates that probably hold the request's prompt prefix in their KV cache:
 * {@code score = matchedBlocks / totalBlocks} from the {@link PrefixMatch} that {@link ApproxPrefixCacheProducer}
 * stored for the request; 0 for every candidate when there is none or the prompt was too short to hash.
 *
 * <p>Takes the producer's parameters, validated as the producer does; a configuration with this scorer and no
 * {@code approx-prefix-cache-producer} gets one created with these parameters, as in Go.
 */
public final class PrefixCacheScorer implements Scorer {

  /** The plugin type. */
  public static final String TYPE = "prefix-cache-scorer";

  private final TypedName typedName;

  /** A scorer named {@code name}. */
  public PrefixCacheScorer(String name) {
    this.typedName = new TypedName(TYPE, name);
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public void score(RequestContext context, Candidates candidates, double[] scores) {
    PrefixMatch match = context.get(PrefixMatch.KEY);
    if (match == null || match.totalBlocks() == 0) {
      return;
    }
    double total = match.totalBlocks();
    for (int i = 0, n = candidates.size(); i < n; i++) {
      scores[i] = match.matchedBlocks(candidates.position(i)) / total;
    }
  }

  /** Creates {@link PrefixCacheScorer}s, validating the producer parameters they may carry. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    /**
     * Validates the producer parameters and creates the scorer.
     *
     * @throws PluginConfigException if a producer parameter is invalid
     */
    @Override
    public PrefixCacheScorer create(PluginSpec spec, PluginHandle handle) {
      PrefixCacheConfig.parse(spec.parameters());
      return new PrefixCacheScorer(spec.name());
    }
  }
}
