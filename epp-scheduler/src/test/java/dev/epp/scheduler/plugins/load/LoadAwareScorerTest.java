package dev.epp.scheduler.plugins.load;

import static dev.epp.testkit.Fixtures.candidates;
import static dev.epp.testkit.Fixtures.metrics;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.scheduling.Candidates;
import dev.epp.testkit.Fixtures;
import dev.epp.testkit.ScorerContract;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LoadAwareScorerTest implements ScorerContract<LoadAwareScorer> {

  @Override
  public LoadAwareScorer newScorer() {
    return new LoadAwareScorer("load-aware", Parameters.empty());
  }

  @Override
  public PluginFactory factory() {
    return new LoadAwareScorer.Factory();
  }

  private static double[] score(LoadAwareScorer scorer, Candidates candidates) {
    double[] scores = new double[candidates.size()];
    scorer.score(Fixtures.context(), candidates, scores);
    return scores;
  }

  @Test
  void halfForAnEmptyQueueDownToZeroAtTheThreshold() {
    assertArrayEquals(new double[] {0.5, 0.25, 0.0, 0.0},
        score(newScorer(), candidates(metrics(0, 0.9), metrics(64, 0), metrics(128, 0), metrics(500, 0))), 1e-9);
  }

  @Test
  void honoursTheThreshold() {
    LoadAwareScorer scorer = new LoadAwareScorer("l", Parameters.of(Map.of("threshold", 10)));
    assertArrayEquals(new double[] {0.4, 0.0}, score(scorer, candidates(metrics(2, 0), metrics(10, 0))), 1e-9);
  }

  @Test
  void rejectsANonPositiveThreshold() {
    assertThrows(PluginConfigException.class, () -> new LoadAwareScorer("l", Parameters.of(Map.of("threshold", 0))));
  }
}
