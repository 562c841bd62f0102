package dev.epp.scheduler.plugins.load;

import static dev.epp.testkit.Fixtures.candidates;
import static dev.epp.testkit.Fixtures.metrics;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.epp.api.EndpointMetrics;
import dev.epp.api.PluginFactory;
import dev.epp.api.scheduling.Candidates;
import dev.epp.testkit.Fixtures;
import dev.epp.testkit.ScorerContract;
import org.junit.jupiter.api.Test;

class RunningRequestsSizeScorerTest implements ScorerContract<RunningRequestsSizeScorer> {

  @Override
  public RunningRequestsSizeScorer newScorer() {
    return new RunningRequestsSizeScorer("running");
  }

  @Override
  public PluginFactory factory() {
    return new RunningRequestsSizeScorer.Factory();
  }

  @Test
  void normalisesRunningRequestsBetweenFewestAndMost() {
    // Queues run the other way, so a scorer reading the queue would fail.
    Candidates candidates = candidates(running(3, 10), running(0, 20), running(10, 0));
    assertArrayEquals(new double[] {0.7, 1.0, 0.0}, score(candidates), 1e-9);
  }

  @Test
  void equalRunningRequestsAllScoreOne() {
    assertArrayEquals(new double[] {1.0, 1.0, 1.0}, score(candidates(running(2, 0), running(2, 5), running(2, 9))),
        1e-9);
  }

  private static EndpointMetrics running(int runningRequests, int queue) {
    return metrics(queue, 0.5).toBuilder().runningRequests(runningRequests).build();
  }

  private double[] score(Candidates candidates) {
    double[] scores = new double[candidates.size()];
    newScorer().score(Fixtures.context(), candidates, scores);
    return scores;
  }
}
