package dev.epp.scheduler.plugins.load;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.epp.api.InferenceRequest;
import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.RequestBody;
import dev.epp.api.RequestContext;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.ProfileResult;
import dev.epp.api.scheduling.SchedulingResult;
import dev.epp.testkit.Fixtures;
import dev.epp.testkit.ScorerContract;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ActiveRequestScorerTest implements ScorerContract<ActiveRequestScorer> {

  private final InFlightLoadProducer producer = new InFlightLoadProducer("load", Parameters.empty());
  private final Candidates candidates = Fixtures.candidates(Fixtures.metrics(0, 0), Fixtures.metrics(0, 0),
      Fixtures.metrics(0, 0), Fixtures.metrics(0, 0));

  @Override
  public ActiveRequestScorer newScorer() {
    return new ActiveRequestScorer("active", Parameters.empty(), producer);
  }

  @Override
  public PluginFactory factory() {
    return new ActiveRequestScorer.Factory();
  }

  @Override
  public PluginHandle newHandle() {
    return InFlightHandles.withDefaultProducer();
  }

  /** Routes {@code requests} requests to candidate {@code i}. */
  private void load(int i, int requests) {
    for (int k = 0; k < requests; k++) {
      RequestContext context = new RequestContext(InferenceRequest.builder().requestId("r" + k).model("m")
          .body(RequestBody.completion("p")).build());
      producer.preRequest(context,
          new SchedulingResult("p", Map.of("p", new ProfileResult(List.of(candidates.endpoint(i))))));
    }
  }

  private double[] score(ActiveRequestScorer scorer) {
    double[] scores = new double[candidates.size()];
    scorer.score(Fixtures.context(), candidates, scores);
    return scores;
  }

  @Test
  void scoresRequestsRelativeToTheBusiest() {
    load(0, 4);
    load(1, 1);
    load(2, 2);
    assertArrayEquals(new double[] {0.0, 0.75, 0.5, 1.0}, score(newScorer()), 1e-9);
  }

  @Test
  void idleCandidatesScoreOneAndBusyOnesAreCapped() {
    load(0, 4);
    load(1, 1);
    load(2, 2);
    ActiveRequestScorer scorer = new ActiveRequestScorer("a",
        Parameters.of(Map.of("idleThreshold", 1, "maxBusyScore", 0.5)), producer);
    assertArrayEquals(new double[] {0.0, 1.0, 0.25, 1.0}, score(scorer), 1e-9);
  }

  @Test
  void anIdlePoolScoresOne() {
    assertArrayEquals(new double[] {1.0, 1.0, 1.0, 1.0}, score(newScorer()), 1e-9);
  }

  @Test
  void rejectsOutOfRangeParameters() {
    assertThrows(PluginConfigException.class,
        () -> new ActiveRequestScorer("a", Parameters.of(Map.of("idleThreshold", -1)), producer));
    assertThrows(PluginConfigException.class,
        () -> new ActiveRequestScorer("a", Parameters.of(Map.of("maxBusyScore", 1.5)), producer));
  }
}
