package dev.epp.scheduler.plugins.load;

import static dev.epp.testkit.Fixtures.candidates;
import static dev.epp.testkit.Fixtures.metrics;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.epp.api.PluginFactory;
import dev.epp.api.scheduling.Candidates;
import dev.epp.testkit.Fixtures;
import dev.epp.testkit.ScorerContract;
import org.junit.jupiter.api.Test;

class KvCacheUtilizationScorerTest implements ScorerContract<KvCacheUtilizationScorer> {

  @Override
  public KvCacheUtilizationScorer newScorer() {
    return new KvCacheUtilizationScorer("kv");
  }

  @Override
  public PluginFactory factory() {
    return new KvCacheUtilizationScorer.Factory();
  }

  @Test
  void scoresFreeCacheFraction() {
    Candidates candidates = candidates(metrics(9, 0.0), metrics(0, 0.25), metrics(0, 1.0), metrics(0, 0.8));
    double[] scores = new double[candidates.size()];
    newScorer().score(Fixtures.context(), candidates, scores);
    assertArrayEquals(new double[] {1.0, 0.75, 0.0, 0.2}, scores, 1e-9);
  }
}
