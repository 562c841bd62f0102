package dev.epp.scheduler.plugins.prefix;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.RequestContext;
import dev.epp.api.scheduling.Candidates;
import dev.epp.testkit.Fixtures;
import dev.epp.testkit.ScorerContract;
import java.util.Map;
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
    double[] scores = new double[candidates.size()];
    new PrefixCacheScorer("prefix").score(context, candidates, scores);
    return scores;
  }

  @Test
  void scoresMatchedOverTotalBlocks() {
    RequestContext context = withMatch(new PrefixMatch(new int[] {0, 4, 1, 3}, 4, 16));
    assertArrayEquals(new double[] {0, 1, 0.25, 0.75}, score(context, Fixtures.unscraped(4)), 1e-12);
  }

  @Test
  void readsMatchesByPositionNotIndex() {
    // The two survivors of filtering, at positions 3 and 1 of the request's candidates.
    Candidates survivors = new Candidates() {
      private final int[] positions = {3, 1};

      @Override
      public int size() {
        return 2;
      }

      @Override
      public Endpoint endpoint(int i) {
        return Fixtures.endpoint(positions[i]);
      }

      @Override
      public EndpointMetrics metrics(int i) {
        return EndpointMetrics.none();
      }

      @Override
      public int position(int i) {
        return positions[i];
      }
    };
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
}
