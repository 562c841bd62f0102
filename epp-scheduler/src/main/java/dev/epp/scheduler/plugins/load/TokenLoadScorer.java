package dev.epp.scheduler.plugins.load;

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
 * Prefers candidates with few tokens in flight: llm-d's {@code token-load-scorer}. With {@code t} = the candidate's
 * in-flight tokens plus the tokens this request would add there ({@link InFlightLoad#requestTokens}),
 * {@code score = 1 - min(1, t / queueThresholdTokens)}.
 *
 * <p>Parameters (llm-d names and defaults):
 *
 * <ul>
 *   <li>{@code queueThresholdTokens} (integer, default 4194304): the load that scores 0; above 0.
 *   <li>{@code inFlightLoadProducerName} (string, default {@code inflight-load-producer}): the
 *       {@link InFlightLoadProducer} to read.
 * </ul>
 */
public final class TokenLoadScorer implements Scorer {

  /** The plugin type. */
  public static final String TYPE = "token-load-scorer";

  private static final String QUEUE_THRESHOLD_TOKENS = "queueThresholdTokens";

  private final TypedName typedName;
  private final InFlightLoad load;
  private final double threshold;

  /**
   * A scorer named {@code name} reading {@code load}.
   *
   * @throws PluginConfigException if a parameter is invalid
   */
  public TokenLoadScorer(String name, Parameters parameters, InFlightLoad load) {
    this.typedName = new TypedName(TYPE, name);
    this.load = load;
    long threshold = parameters.getLong(QUEUE_THRESHOLD_TOKENS, 4_194_304L);
    if (threshold <= 0) {
      throw parameters.invalid(QUEUE_THRESHOLD_TOKENS, "must be greater than 0, got " + threshold);
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
      long tokens = load.tokens(candidates.endpoint(i)) + load.requestTokens(context, candidates.position(i));
      scores[i] = tokens <= 0 ? 1.0 : 1.0 - Math.min(tokens, threshold) / threshold;
    }
  }

  /** Creates {@link TokenLoadScorer}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public TokenLoadScorer create(PluginSpec spec, PluginHandle handle) {
      Parameters parameters = spec.parameters();
      return new TokenLoadScorer(spec.name(), parameters, InFlightLoad.find(parameters, handle));
    }
  }
}
