package dev.epp.scheduler.plugins.session;

import static dev.epp.scheduler.plugins.session.SessionAffinityFilterTest.request;
import static dev.epp.scheduler.plugins.session.SessionAffinityFilterTest.scheduledTo;
import static dev.epp.scheduler.plugins.session.SessionAffinityFilterTest.token;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.epp.api.Parameters;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.requestcontrol.InferenceResponse;
import dev.epp.api.scheduling.Candidates;
import dev.epp.testkit.FakeTicker;
import dev.epp.testkit.Fixtures;
import dev.epp.testkit.ScorerContract;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SessionAffinityScorerTest implements ScorerContract<SessionAffinityScorer> {

  private static final Candidates FOUR = Fixtures.unscraped(4);

  @Override
  public SessionAffinityScorer newScorer() {
    return create(Map.of());
  }

  @Override
  public PluginFactory factory() {
    return new SessionAffinityScorer.Factory();
  }

  @Override
  public RequestContext newContext() {
    return request(Map.of("x-session-token", token("pod-1-rank-0")));
  }

  private static SessionAffinityScorer create(Map<String, Object> parameters) {
    return new SessionAffinityScorer.Factory().create(
        new PluginSpec("affinity", SessionAffinityScorer.TYPE, Parameters.of(parameters)),
        Fixtures.handle(new FakeTicker()));
  }

  private static double[] score(SessionAffinityScorer scorer, RequestContext context) {
    double[] scores = new double[FOUR.size()];
    scorer.score(context, FOUR, scores);
    return scores;
  }

  @Test
  void pinnedEndpointScoresOneOthersZero() {
    assertArrayEquals(new double[] {0, 1, 0, 0}, score(newScorer(), newContext()));
    assertArrayEquals(new double[] {0, 0, 0, 1},
        score(newScorer(), request(Map.of("x-session-token", token("ns/pod-3-rank-0")))));
  }

  @Test
  void noBadOrStaleTokenScoresZeroEverywhere() {
    double[] zeros = new double[4];
    assertArrayEquals(zeros, score(newScorer(), request(Map.of())));
    assertArrayEquals(zeros, score(newScorer(), request(Map.of("x-session-token", "%%%"))));
    assertArrayEquals(zeros, score(newScorer(), request(Map.of("x-session-token", token("gone-rank-0")))));
  }

  @Test
  void responseCarriesTheTokenOfTheServingEndpoint() {
    SessionAffinityScorer scorer = newScorer();
    RequestContext context = request(Map.of());
    scorer.preRequest(context, scheduledTo(2));
    InferenceResponse response = new InferenceResponse(Fixtures.endpoint(2), Map.of());
    scorer.responseHeaders(context, response);
    assertEquals(token("pod-2-rank-0"), response.headers().get("x-session-token"));
  }

  @Test
  void sessionOutvotedByOtherScorersStaysBoundToItsEndpoint() {
    SessionAffinityScorer scorer = create(Map.of("strategy", "session_id"));
    RequestContext first = request(Map.of("x-session-id", "s"));
    assertArrayEquals(new double[4], score(scorer, first));
    scorer.preRequest(first, scheduledTo(0));

    RequestContext outvoted = request(Map.of("x-session-id", "s"));
    assertArrayEquals(new double[] {1, 0, 0, 0}, score(scorer, outvoted));
    scorer.preRequest(outvoted, scheduledTo(2));
    assertArrayEquals(new double[] {1, 0, 0, 0}, score(scorer, request(Map.of("x-session-id", "s"))));
  }
}
