package dev.epp.scheduler.plugins.label;

import static dev.epp.scheduler.plugins.filter.Filtering.kept;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.epp.api.InferenceRequest;
import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestBody;
import dev.epp.api.RequestContext;
import dev.epp.api.scheduling.Candidates;
import dev.epp.testkit.FakeTicker;
import dev.epp.testkit.Fixtures;
import dev.epp.testkit.ScorerContract;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ContextLengthAwareTest implements ScorerContract<ContextLengthAware> {

  private static final String LABEL = ContextLengthAware.DEFAULT_LABEL;

  @Override
  public ContextLengthAware newScorer() {
    return new ContextLengthAware("context-router", LABEL, true);
  }

  @Override
  public PluginFactory factory() {
    return new ContextLengthAware.Factory();
  }

  @Override
  public RequestContext newContext() {
    return prompt(4000);
  }

  /** A request whose prompt has {@code chars} characters, i.e. about chars/4 tokens. */
  private static RequestContext prompt(int chars) {
    return new RequestContext(InferenceRequest.builder().model("m")
        .body(RequestBody.completion("x".repeat(chars))).build());
  }

  /** One candidate per range label; {@code null} = no label. */
  private static Candidates ranges(String... ranges) {
    List<dev.epp.api.Endpoint> endpoints = new ArrayList<>();
    for (int i = 0; i < ranges.length; i++) {
      endpoints.add(Fixtures.endpoint(i, ranges[i] == null ? Map.of() : Map.of(LABEL, ranges[i])));
    }
    return Candidates.of(endpoints);
  }

  private static double[] score(ContextLengthAware plugin, RequestContext context, Candidates candidates) {
    double[] scores = new double[candidates.size()];
    plugin.score(context, candidates, scores);
    return scores;
  }

  @Test
  void scoresFollowTheRangeFormula() {
    // 4000 characters = 1000 tokens.
    double[] scores = score(newScorer(), prompt(4000),
        ranges("0-2048", " 0 - 4096 ", "2048-8192", "0-500", "1000-1000", null, "8k-16k", "10-5", "-5-10", "+7-"));
    assertEquals(0.8141674448041167, scores[0], 1e-12); // 0.3 + 0.7 (0.7/(1 + 0.2048) + 0.3 × 1048/2048)
    assertEquals(0.806346813812429, scores[1], 1e-12); // a wider range scores lower
    assertEquals(0.146484375, scores[2], 1e-12); // 0.3 / (1 + 1048/1000)
    assertEquals(0.2, scores[3], 1e-12); // 0.3 / (1 + 500/1000)
    assertEquals(1.0, scores[4]);
    assertEquals(0.5, scores[5]);
    for (int unparsable = 6; unparsable < 10; unparsable++) {
      assertEquals(0.0, scores[unparsable], "candidate " + unparsable);
    }
  }

  @Test
  void promptLengthIsCharactersOverFourRoundedUp() {
    assertEquals(0, ContextLengthAware.contextLength(prompt(0)));
    assertEquals(1, ContextLengthAware.contextLength(prompt(1)));
    assertEquals(2, ContextLengthAware.contextLength(prompt(5)));
    double[] scores = score(newScorer(), prompt(4001), ranges("0-1000", "1001-1001"));
    assertEquals(0.3 / 1.001, scores[0], 1e-12);
    assertEquals(1.0, scores[1]);
  }

  @Test
  void filteringKeepsInRangeAndUnlabelledEndpointsOnlyWhenEnabled() {
    Candidates candidates = ranges("0-2048", "2048-8192", null, "bad", "1000-1000");
    assertEquals("{0, 2, 4}", kept(newScorer(), prompt(4000), candidates));
    ContextLengthAware scoringOnly = new ContextLengthAware("c", LABEL, false);
    assertEquals("{0, 1, 2, 3, 4}", kept(scoringOnly, prompt(4000), candidates));
  }

  @Test
  void factoryDefaultsAndLabelParameter() {
    ContextLengthAware byDefault = create(Map.of());
    assertEquals("{0, 1}", kept(byDefault, prompt(4000), ranges("0-10", "20-30")), "filtering is off by default");
    ContextLengthAware custom = create(Map.of("label", "ctx", "enableFiltering", true));
    Candidates labelled = Candidates.of(List.of(
        Fixtures.endpoint(0, Map.of("ctx", "0-10")), Fixtures.endpoint(1, Map.of("ctx", "0-2000"))));
    assertEquals("{1}", kept(custom, prompt(4000), labelled));
    assertEquals(0.5, score(byDefault, prompt(4000), labelled)[0], "other labels are ignored");
    PluginConfigException e = assertThrows(PluginConfigException.class, () -> create(Map.of("label", "")));
    assertEquals("parameter 'label' must not be empty", e.getMessage());
  }

  private static ContextLengthAware create(Map<String, Object> parameters) {
    return new ContextLengthAware.Factory().create(
        new PluginSpec("c", ContextLengthAware.TYPE, Parameters.of(parameters)), Fixtures.handle(new FakeTicker()));
  }
}
