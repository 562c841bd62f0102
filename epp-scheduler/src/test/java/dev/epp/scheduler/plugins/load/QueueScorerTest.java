package dev.epp.scheduler.plugins.load;

import static dev.epp.testkit.Fixtures.candidates;
import static dev.epp.testkit.Fixtures.metrics;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.epp.api.PluginFactory;
import dev.epp.api.scheduling.Candidates;
import dev.epp.testkit.Fixtures;
import dev.epp.testkit.ScorerContract;
import org.junit.jupiter.api.Test;

class QueueScorerTest implements ScorerContract<QueueScorer> {

  @Override
  public QueueScorer newScorer() {
    return new QueueScorer("queue");
  }

  @Override
  public PluginFactory factory() {
    return new QueueScorer.Factory();
  }

  @Test
  void normalisesQueuesBetweenShortestAndLongest() {
    assertArrayEquals(new double[] {0.7, 1.0, 0.0}, score(candidates(metrics(3, 0.9), metrics(0, 0.1), metrics(10, 0))),
        1e-9);
  }

  @Test
  void equalQueuesAllScoreOne() {
    assertArrayEquals(new double[] {1.0, 1.0}, score(candidates(metrics(4, 0.1), metrics(4, 0.9))), 1e-9);
    assertArrayEquals(new double[] {1.0}, score(candidates(metrics(100, 0.5))), 1e-9);
  }

  @Test
  void readsWaitingQueueNotRunningRequests() {
    Candidates candidates =
        candidates(
            metrics(0, 0).toBuilder().runningRequests(50).build(),
            metrics(5, 0).toBuilder().runningRequests(0).build());
    assertArrayEquals(new double[] {1.0, 0.0}, score(candidates), 1e-9);
  }

  private double[] score(Candidates candidates) {
    double[] scores = new double[candidates.size()];
    newScorer().score(Fixtures.context(), candidates, scores);
    return scores;
  }
}
