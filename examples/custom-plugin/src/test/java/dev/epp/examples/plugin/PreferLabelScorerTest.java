package dev.epp.examples.plugin;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.Parameters;
import dev.epp.api.PluginFactory;
import dev.epp.api.scheduling.Candidates;
import dev.epp.testkit.ScorerContract;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The scorer contract from epp-testkit, and the scorer's own rule. */
class PreferLabelScorerTest implements ScorerContract<PreferLabelScorer> {

  @Override
  public PreferLabelScorer newScorer() {
    return (PreferLabelScorer) createThroughFactory("prefer-label-scorer", validParameters());
  }

  @Override
  public PluginFactory factory() {
    return new PreferLabelScorer.Factory();
  }

  @Override
  public Parameters validParameters() {
    return Parameters.of(Map.of("label", "accelerator"));
  }

  @Test
  void scoresOneForEndpointsWithTheLabel() {
    Candidates candidates = Candidates.of(
        List.of(new Endpoint("a", "10.0.0.1", 8000, Map.of("accelerator", "h100")),
            Endpoint.of("b", "10.0.0.2", 8000)),
        List.of(EndpointMetrics.builder().build(), EndpointMetrics.builder().build()));
    double[] scores = new double[2];
    newScorer().score(newContext(), candidates, scores);
    assertArrayEquals(new double[] {1.0, 0.0}, scores);
  }
}
