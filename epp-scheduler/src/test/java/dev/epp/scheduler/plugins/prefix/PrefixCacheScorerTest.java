package dev.epp.scheduler.plugins.prefix;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.epp.api.ConfigDialect;
import dev.epp.api.MetricsRecorder;
import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.Ticker;
import dev.epp.api.scheduling.Candidates;
import dev.epp.testkit.FakeTicker;
import dev.epp.testkit.Fixtures;
import dev.epp.testkit.ScorerContract;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class PrefixCacheScorerTest implements ScorerContract<PrefixCacheScorer> {

  @Override
  public PrefixCacheScorer newScorer() {
    return new PrefixCacheScorer("prefix");
  }

  @Override
  public PluginFactory factory() {
    return new PrefixCacheScorer.Factory();
  }

  @Override
  public Parameters validParameters() {
    return Parameters.of(Map.of("blockSizeTokens", 64, "autoTune", false));
  }

  /** The contract's calls carry a match covering only some positions, so the scorer must cope with the rest. */
  @Override
  public RequestContext newContext() {
    return withMatch(new PrefixMatch(new int[] {0, 4, 1, 4}, 4, 16));
  }

  private static RequestContext withMatch(PrefixMatch match) {
    RequestContext context = Fixtures.context();
    context.put(PrefixMatch.KEY, match);
    return context;
  }

  private static double[] score(RequestContext context, Candidates candidates) {
    return score(new PrefixCacheScorer("prefix"), context, candidates);
  }

  private static double[] score(PrefixCacheScorer scorer, RequestContext context, Candidates candidates) {
    double[] scores = new double[candidates.size()];
    scorer.score(context, candidates, scores);
    return scores;
  }

  /** A handle offering {@code producer} under its name. */
  private static PluginHandle handle(ApproxPrefixCacheProducer producer) {
    return new PluginHandle() {
      @Override
      public Ticker ticker() {
        return new FakeTicker();
      }

      @Override
      public <T> Optional<T> plugin(String name, Class<T> type) {
        return name.equals(producer.typedName().name()) && type.isInstance(producer)
            ? Optional.of(type.cast(producer))
            : Optional.empty();
      }
    };
  }

  private static PrefixCacheScorer create(Map<String, Object> parameters) {
    return new PrefixCacheScorer.Factory().create(
        new PluginSpec("prefix", PrefixCacheScorer.TYPE, Parameters.of(parameters)), Fixtures.handle(new FakeTicker()));
  }

  @Test
  void scoresMatchedOverTotalBlocks() {
    RequestContext context = withMatch(new PrefixMatch(new int[] {0, 4, 1, 3}, 4, 16));
    assertArrayEquals(new double[] {0, 1, 0.25, 0.75}, score(context, Fixtures.unscraped(4)), 1e-12);
  }

  @Test
  void readsMatchesByPositionNotIndex() {
    // The two survivors of filtering, at positions 3 and 1 of the request's candidates.
    Candidates survivors = Fixtures.survivors(3, 1);
    RequestContext context = withMatch(new PrefixMatch(new int[] {0, 2, 0, 4}, 4, 16));
    assertArrayEquals(new double[] {1.0, 0.5}, score(context, survivors), 1e-12);
  }

  @Test
  void scoresZeroWithoutMatchOrBlocks() {
    assertArrayEquals(new double[3], score(Fixtures.context(), Fixtures.unscraped(3)));
    assertArrayEquals(new double[3], score(withMatch(new PrefixMatch(new int[3], 0, 16)), Fixtures.unscraped(3)));
  }

  @Test
  void factoryValidatesTheProducerParameters() {
    PluginConfigException e = assertThrows(PluginConfigException.class,
        () -> createThroughFactory("prefix", Parameters.of(Map.of("blockSize", 64))));
    assertEquals("blockSize", e.parameter());
  }

  @Test
  void matchLengthWeightBlendsTheSquaredNormalizedMatchLengthWithTheRatio() {
    // 8 blocks of 16 tokens, scale 64 tokens: lengths min(1, m·16/64)² = 0, 1, 1/16, 1; ratios 0, 1/2, 1/8, 1.
    PrefixCacheScorer scorer = create(Map.of("matchLengthWeight", 0.5, "matchLengthScaleTokens", 64));
    RequestContext context = withMatch(new PrefixMatch(new int[] {0, 4, 1, 8}, 8, 16));
    assertArrayEquals(new double[] {0, 0.75, 0.09375, 1}, score(scorer, context, Fixtures.unscraped(4)), 1e-12);
  }

  @Test
  void defaultScaleIs8192Tokens() {
    // 256 of 512 blocks of 16 tokens: 4096 tokens, length (4096/8192)² = 0.25, ratio 0.5.
    PrefixCacheScorer scorer = create(Map.of("matchLengthWeight", 1.0));
    int[] matched = {256};
    RequestContext context = withMatch(new PrefixMatch(matched, 512, 16));
    assertArrayEquals(new double[] {0.25}, score(scorer, context, Fixtures.unscraped(1)), 1e-12);
    assertArrayEquals(new double[] {0.5}, score(create(Map.of()), context, Fixtures.unscraped(1)), 1e-12);
  }

  @Test
  void rejectsAWeightOutsideZeroToOneAndANonPositiveScaleWhenWeighted() {
    PluginConfigException e = assertThrows(PluginConfigException.class,
        () -> create(Map.of("matchLengthWeight", 1.5)));
    assertEquals("matchLengthWeight", e.parameter());
    e = assertThrows(PluginConfigException.class, () -> create(Map.of("matchLengthWeight", -0.1)));
    assertEquals("matchLengthWeight", e.parameter());
    e = assertThrows(PluginConfigException.class,
        () -> create(Map.of("matchLengthWeight", 0.5, "matchLengthScaleTokens", 0)));
    assertEquals("matchLengthScaleTokens", e.parameter());
    PrefixCacheScorer unweighted = create(Map.of("matchLengthScaleTokens", 0));
    RequestContext context = withMatch(new PrefixMatch(new int[] {2}, 4, 16));
    assertArrayEquals(new double[] {0.5}, score(unweighted, context, Fixtures.unscraped(1)), 1e-12);
  }

  @Test
  void readsTheNamedProducersMatch() {
    ApproxPrefixCacheProducer named = new ApproxPrefixCacheProducer("named", Parameters.empty(), ConfigDialect.LLM_D,
        MetricsRecorder.noop());
    PrefixCacheScorer scorer = new PrefixCacheScorer.Factory().create(new PluginSpec("prefix", PrefixCacheScorer.TYPE,
        Parameters.of(Map.of("prefixMatchInfoProducerName", "named"))), handle(named));
    RequestContext context = withMatch(new PrefixMatch(new int[] {4, 0}, 4, 16));
    assertArrayEquals(new double[] {0, 0}, score(scorer, context, Fixtures.unscraped(2)));
    context.put(named.matchKey(), new PrefixMatch(new int[] {0, 2}, 4, 16));
    assertArrayEquals(new double[] {0, 0.5}, score(scorer, context, Fixtures.unscraped(2)), 1e-12);
  }

  @Test
  void aNamedProducerMustBeDeclaredBefore() {
    PluginConfigException e = assertThrows(PluginConfigException.class,
        () -> create(Map.of("prefixMatchInfoProducerName", "missing")));
    assertEquals("prefixMatchInfoProducerName", e.parameter());
    assertArrayEquals(new double[] {1.0}, score(create(Map.of("prefixMatchInfoProducerName", "")),
        withMatch(new PrefixMatch(new int[] {4}, 4, 16)), Fixtures.unscraped(1)), 1e-12);
  }
}
