package dev.epp.scheduler.plugins.load;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

class TokenLoadScorerTest implements ScorerContract<TokenLoadScorer> {

  private final InFlightLoadProducer producer = new InFlightLoadProducer("load", Parameters.empty());
  private final Candidates candidates = Fixtures.candidates(Fixtures.metrics(0, 0), Fixtures.metrics(0, 0),
      Fixtures.metrics(0, 0));

  @Override
  public TokenLoadScorer newScorer() {
    return new TokenLoadScorer("tokens", Parameters.empty(), producer);
  }

  @Override
  public PluginFactory factory() {
    return new TokenLoadScorer.Factory();
  }

  @Override
  public PluginHandle newHandle() {
    return InFlightHandles.withDefaultProducer();
  }

  private static RequestContext context(int promptChars) {
    return new RequestContext(InferenceRequest.builder().requestId("r").model("m")
        .body(new RequestBody(RequestBody.Api.COMPLETIONS, false, "", "x".repeat(promptChars))).build());
  }

  /** Routes a prompt of {@code 4 × tokens} characters to candidate {@code i}. */
  private void load(int i, int tokens) {
    RequestContext context = context(4 * tokens);
    producer.prepareData(context, candidates);
    producer.preRequest(context,
        new SchedulingResult("p", Map.of("p", new ProfileResult(List.of(candidates.endpoint(i))))));
  }

  private double[] score(TokenLoadScorer scorer, RequestContext context) {
    producer.prepareData(context, candidates);
    double[] scores = new double[candidates.size()];
    scorer.score(context, candidates, scores);
    return scores;
  }

  @Test
  void scoresInFlightPlusRequestTokensAgainstTheThreshold() {
    TokenLoadScorer scorer = new TokenLoadScorer("t", Parameters.of(Map.of("queueThresholdTokens", 100)), producer);
    load(0, 30);
    load(1, 95);
    // This request adds 10 tokens everywhere: loads 40, 105 (capped at 100) and 10.
    assertArrayEquals(new double[] {0.6, 0.0, 0.9}, score(scorer, context(40)), 1e-9);
  }

  @Test
  void anIdlePoolAndAnEmptyPromptScoreOne() {
    assertArrayEquals(new double[] {1.0, 1.0, 1.0}, score(newScorer(), context(0)), 1e-9);
  }

  @Test
  void defaultThresholdIsFourMebiTokens() {
    load(0, 1 << 20);
    assertArrayEquals(new double[] {0.75, 1.0, 1.0}, score(newScorer(), context(0)), 1e-9);
  }

  @Test
  void rejectsANonPositiveThresholdAndAMissingProducer() {
    PluginConfigException threshold = assertThrows(PluginConfigException.class,
        () -> new TokenLoadScorer("t", Parameters.of(Map.of("queueThresholdTokens", 0)), producer));
    assertTrue(threshold.getMessage().contains("queueThresholdTokens"), threshold.getMessage());
    PluginConfigException missing = assertThrows(PluginConfigException.class, () -> createThroughFactory("t",
        Parameters.of(Map.of("inFlightLoadProducerName", "nope"))));
    assertTrue(missing.getMessage().contains("'nope'"), missing.getMessage());
  }
}
