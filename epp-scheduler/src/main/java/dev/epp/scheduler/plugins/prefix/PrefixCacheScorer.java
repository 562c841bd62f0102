package dev.epp.scheduler.plugins.prefix;

import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.StateKey;
import dev.epp.api.TypedName;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.Scorer;
import java.util.Set;

/**
 * Prefers candidates that probably hold the request's prompt prefix in their KV cache, from the {@link PrefixMatch}
 * an {@link ApproxPrefixCacheProducer} stored for the request: with {@code m} matched blocks of {@code t},
 * {@code score = w·min(1, m·blockSizeTokens/matchLengthScaleTokens)² + (1−w)·m/t}, {@code w} =
 * {@code matchLengthWeight}; 0 for every candidate when there is no match or the prompt was too short to hash.
 *
 * <p>Parameters (llm-d names and defaults): {@code matchLengthWeight} (0.0, in [0, 1]), {@code matchLengthScaleTokens}
 * (8192, above 0 when the weight is), {@code prefixMatchInfoProducerName} (see {@link PrefixMatch#key}). The other
 * parameters are the producer's, validated as the producer does; a configuration with this scorer and no
 * {@code approx-prefix-cache-producer} gets one created with them, as in Go.
 */
public final class PrefixCacheScorer implements Scorer {

  /** The plugin type. */
  public static final String TYPE = "prefix-cache-scorer";

  private static final String MATCH_LENGTH_WEIGHT = "matchLengthWeight";
  private static final String MATCH_LENGTH_SCALE_TOKENS = "matchLengthScaleTokens";

  /** The parameters the scorer reads itself; the others configure the producer. */
  public static final Set<String> OWN_PARAMETERS =
      Set.of(MATCH_LENGTH_WEIGHT, MATCH_LENGTH_SCALE_TOKENS, PrefixMatch.PRODUCER_NAME);

  private final TypedName typedName;
  private final StateKey<PrefixMatch> matchKey;
  private final double matchLengthWeight;
  private final double matchLengthScaleTokens;

  /** A scorer named {@code name} scoring the match ratio of {@link PrefixMatch#KEY} only. */
  public PrefixCacheScorer(String name) {
    this(name, PrefixMatch.KEY, 0.0, 8192);
  }

  private PrefixCacheScorer(
      String name, StateKey<PrefixMatch> matchKey, double matchLengthWeight, int matchLengthScaleTokens) {
    this.typedName = new TypedName(TYPE, name);
    this.matchKey = matchKey;
    this.matchLengthWeight = matchLengthWeight;
    this.matchLengthScaleTokens = matchLengthScaleTokens;
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public void score(RequestContext context, Candidates candidates, double[] scores) {
    PrefixMatch match = context.get(matchKey);
    if (match == null || match.totalBlocks() == 0) {
      return;
    }
    double total = match.totalBlocks();
    boolean byLength = matchLengthWeight > 0 && match.blockSizeTokens() > 0;
    for (int i = 0, n = candidates.size(); i < n; i++) {
      int matched = match.matchedBlocks(candidates.position(i));
      double lengthScore = 0;
      if (byLength) {
        double normalized = Math.min(1.0, (double) matched * match.blockSizeTokens() / matchLengthScaleTokens);
        lengthScore = normalized * normalized;
      }
      scores[i] = matchLengthWeight * lengthScore + (1.0 - matchLengthWeight) * (matched / total);
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
     * Validates the parameters and creates the scorer.
     *
     * @throws PluginConfigException if a parameter is invalid or the named producer is not declared
     */
    @Override
    public PrefixCacheScorer create(PluginSpec spec, PluginHandle handle) {
      Parameters parameters = spec.parameters();
      double weight = parameters.getDouble(MATCH_LENGTH_WEIGHT, 0.0);
      if (weight < 0.0 || weight > 1.0) {
        throw parameters.invalid(MATCH_LENGTH_WEIGHT, "must be between 0.0 and 1.0, got " + weight);
      }
      int scale = parameters.getInt(MATCH_LENGTH_SCALE_TOKENS, 8192);
      if (weight > 0.0 && scale <= 0) {
        throw parameters.invalid(MATCH_LENGTH_SCALE_TOKENS,
            "must be greater than 0 when " + MATCH_LENGTH_WEIGHT + " is greater than 0, got " + scale);
      }
      StateKey<PrefixMatch> matchKey = PrefixMatch.key(parameters, handle);
      PrefixCacheConfig.parse(parameters, handle.dialect());
      return new PrefixCacheScorer(spec.name(), matchKey, weight, scale);
    }
  }
}
