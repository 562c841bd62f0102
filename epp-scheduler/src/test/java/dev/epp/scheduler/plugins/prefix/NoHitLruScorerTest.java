package dev.epp.scheduler.plugins.prefix;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.ConfigDialect;
import dev.epp.api.MetricsRecorder;
import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.StateKey;
import dev.epp.api.Ticker;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.ProfileResult;
import dev.epp.api.scheduling.SchedulingResult;
import dev.epp.testkit.FakeTicker;
import dev.epp.testkit.Fixtures;
import dev.epp.testkit.ScorerContract;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class NoHitLruScorerTest implements ScorerContract<NoHitLruScorer> {

  private final NoHitLruScorer scorer = newScorer();

  @Override
  public NoHitLruScorer newScorer() {
    return new NoHitLruScorer("lru", PrefixMatch.KEY, Parameters.empty());
  }

  @Override
  public PluginFactory factory() {
    return new NoHitLruScorer.Factory();
  }

  @Override
  public Parameters validParameters() {
    return Parameters.of(Map.of("prefixPluginType", "prefix-cache-scorer", "prefixPluginName", "cache",
        "lruSize", 16));
  }

  /** Scores {@code candidates} for a request with {@code match} (none if null), then sends it to {@code target}. */
  private double[] route(NoHitLruScorer lru, PrefixMatch match, Candidates candidates, int target) {
    return route(lru, PrefixMatch.KEY, match, candidates, target);
  }

  /** {@link #route(NoHitLruScorer, PrefixMatch, Candidates, int)} with the match stored under {@code key}. */
  private double[] route(NoHitLruScorer lru, StateKey<PrefixMatch> key, PrefixMatch match, Candidates candidates,
      int target) {
    RequestContext context = Fixtures.context();
    if (match != null) {
      context.put(key, match);
    }
    double[] scores = new double[candidates.size()];
    lru.score(context, candidates, scores);
    lru.preRequest(context, result(Map.of("decode", Fixtures.endpoint(target))));
    return scores;
  }

  private static SchedulingResult result(Map<String, Endpoint> targets) {
    Map<String, ProfileResult> results = new HashMap<>();
    targets.forEach((profile, endpoint) -> results.put(profile, new ProfileResult(List.of(endpoint))));
    return new SchedulingResult("decode", results);
  }

  @Test
  void coldRequestsRankNeverUsedFirstThenLeastRecentlyUsed() {
    Candidates four = Fixtures.unscraped(4);
    assertArrayEquals(new double[] {1, 2 / 3.0, 1 / 3.0, 0}, route(scorer, null, four, 2), 1e-12);
    // 2 served a cold request: the three never used come first, 2 ranks 3 + 0.
    assertArrayEquals(new double[] {1, 2 / 3.0, 0, 1 / 3.0}, route(scorer, null, four, 0), 1e-12);
    // LRU is [2, 0]: never used 1, 3 then 2 (rank 2) and 0 (rank 3).
    assertArrayEquals(new double[] {0, 1, 1 / 3.0, 2 / 3.0}, route(scorer, null, four, 2), 1e-12);
    // LRU is [0, 2]: 0 is now the least recent of the used ones.
    assertArrayEquals(new double[] {1 / 3.0, 1, 0, 2 / 3.0}, route(scorer, null, four, 1), 1e-12);
  }

  @Test
  void warmRequestsScoreNeutralAndLeaveTheLruAlone() {
    Candidates three = Fixtures.unscraped(3);
    PrefixMatch hitOnOne = new PrefixMatch(new int[] {0, 2, 0}, 4, 16);
    assertArrayEquals(new double[] {0.5, 0.5, 0.5}, route(scorer, hitOnOne, three, 0), 1e-12);
    // Endpoint 0 served a warm request only, so it still counts as never used.
    assertArrayEquals(new double[] {1, 0.5, 0}, route(scorer, new PrefixMatch(new int[3], 4, 16), three, 0), 1e-12);
    assertArrayEquals(new double[] {0, 1, 0.5}, route(scorer, null, three, 1), 1e-12);
  }

  @Test
  void hitOnACandidateFilteredOutStillMeansCold() {
    // Only the candidate at position 0 holds the prefix, and it is not among the two scored.
    PrefixMatch match = new PrefixMatch(new int[] {3, 0, 0}, 4, 16);
    Candidates survivors = new Candidates() {
      @Override
      public int size() {
        return 2;
      }

      @Override
      public Endpoint endpoint(int i) {
        return Fixtures.endpoint(i + 1);
      }

      @Override
      public EndpointMetrics metrics(int i) {
        return EndpointMetrics.none();
      }

      @Override
      public int position(int i) {
        return i + 1;
      }
    };
    assertArrayEquals(new double[] {1, 0}, route(scorer, match, survivors, 1), 1e-12);
  }

  @Test
  void singleCandidateScoresOne() {
    route(scorer, null, Fixtures.unscraped(1), 0);
    assertArrayEquals(new double[] {1}, route(scorer, null, Fixtures.unscraped(1), 0));
  }

  @Test
  void prefillTargetAlsoBecomesMostRecent() {
    RequestContext context = Fixtures.context();
    scorer.score(context, Fixtures.unscraped(3), new double[3]);
    scorer.preRequest(context, result(Map.of("decode", Fixtures.endpoint(0), "prefill", Fixtures.endpoint(1))));
    assertArrayEquals(new double[] {0.5, 0, 1}, route(scorer, null, Fixtures.unscraped(3), 2), 1e-12);
  }

  @Test
  void unscoredRequestLeavesTheLruAlone() {
    scorer.preRequest(Fixtures.context(), result(Map.of("decode", Fixtures.endpoint(0))));
    assertArrayEquals(new double[] {1, 0.5, 0}, route(scorer, null, Fixtures.unscraped(3), 0), 1e-12);
  }

  @Test
  void lruDropsTheLeastRecentBeyondItsSize() {
    NoHitLruScorer small = new NoHitLruScorer("lru", PrefixMatch.KEY, Parameters.of(Map.of("lruSize", 2)));
    Candidates three = Fixtures.unscraped(3);
    route(small, null, three, 0);
    route(small, null, three, 1);
    route(small, null, three, 2);
    // 0 was dropped: it is never used again, LRU [1, 2].
    assertArrayEquals(new double[] {1, 0.5, 0}, route(small, null, three, 0), 1e-12);
  }

  @Test
  void rejectsLruSizeBelowOne() {
    PluginConfigException e = assertThrows(PluginConfigException.class,
        () -> new NoHitLruScorer("lru", PrefixMatch.KEY, Parameters.of(Map.of("lruSize", 0))));
    assertEquals("lruSize", e.parameter());
  }

  /** A handle that knows the plugins of {@code plugins} by name. */
  private static PluginHandle handle(Map<String, Object> plugins) {
    return new PluginHandle() {
      @Override
      public Ticker ticker() {
        return new FakeTicker();
      }

      @Override
      public <T> Optional<T> plugin(String name, Class<T> type) {
        return Optional.ofNullable(plugins.get(name)).filter(type::isInstance).map(type::cast);
      }
    };
  }

  private static NoHitLruScorer create(Map<String, Object> parameters, Map<String, Object> plugins) {
    return new NoHitLruScorer.Factory().create(
        new PluginSpec("lru", NoHitLruScorer.TYPE, Parameters.of(parameters)), handle(plugins));
  }

  @Test
  void readsTheMatchOfTheNamedProducer() {
    ApproxPrefixCacheProducer other =
        new ApproxPrefixCacheProducer("other", Parameters.empty(), ConfigDialect.LLM_D, MetricsRecorder.noop());
    NoHitLruScorer lru = create(Map.of("prefixMatchInfoProducerName", "other"), Map.of("other", other));
    PrefixMatch hit = new PrefixMatch(new int[] {0, 3, 0}, 3, 16);
    Candidates three = Fixtures.unscraped(3);
    // A hit under the default key is not this scorer's: the request is cold.
    assertArrayEquals(new double[] {1, 0.5, 0}, route(lru, PrefixMatch.KEY, hit, three, 0), 1e-12);
    assertArrayEquals(new double[] {0.5, 0.5, 0.5}, route(lru, other.matchKey(), hit, three, 0), 1e-12);
    NoHitLruScorer byDefault = create(Map.of("prefixMatchInfoProducerName", ""), Map.of("other", other));
    assertArrayEquals(new double[] {0.5, 0.5, 0.5}, route(byDefault, PrefixMatch.KEY, hit, three, 0), 1e-12);
  }

  @Test
  void rejectsAProducerNameThatIsNotADeclaredPrefixProducer() {
    Map<String, Object> plugins = Map.of("queue", new Object());
    for (String name : List.of("missing", "queue")) {
      PluginConfigException e = assertThrows(PluginConfigException.class,
          () -> create(Map.of("prefixMatchInfoProducerName", name), plugins));
      assertEquals("prefixMatchInfoProducerName", e.parameter());
      assertTrue(e.getMessage().contains("names no approx-prefix-cache-producer plugin '" + name + "'"),
          e.getMessage());
    }
  }
}
