package dev.epp.scheduler.plugins.label;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.RequestContext;
import dev.epp.api.scheduling.Candidates;
import dev.epp.testkit.Fixtures;
import dev.epp.testkit.ScorerContract;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class HeaderLabelAffinityScorerTest implements ScorerContract<HeaderLabelAffinityScorer> {

  /** Endpoints 0..3: zone a, zone b, zone a, unlabelled. */
  private static final Candidates ZONES = Candidates.of(List.of(
      Fixtures.endpoint(0, Map.of("zone", "a")),
      Fixtures.endpoint(1, Map.of("zone", "b")),
      Fixtures.endpoint(2, Map.of("zone", "a", "rack", "b")),
      Fixtures.endpoint(3)));

  @Override
  public HeaderLabelAffinityScorer newScorer() {
    return new HeaderLabelAffinityScorer("zone-affinity", "X-Preferred-Zone", "zone");
  }

  @Override
  public PluginFactory factory() {
    return new HeaderLabelAffinityScorer.Factory();
  }

  @Override
  public Parameters validParameters() {
    return Parameters.of(Map.of("headerName", "x-preferred-zone", "labelKey", "zone"));
  }

  private double[] score(Map<String, String> headers) {
    double[] scores = new double[ZONES.size()];
    newScorer().score(Fixtures.context("m", headers), ZONES, scores);
    return scores;
  }

  @Test
  void endpointsWhoseLabelEqualsTheHeaderScoreOne() {
    assertArrayEquals(new double[] {1, 0, 1, 0}, score(Map.of("x-preferred-zone", "a")));
    assertArrayEquals(new double[] {0, 1, 0, 0}, score(Map.of("x-preferred-zone", "b")));
  }

  @Test
  void missingEmptyOrUnknownHeaderScoresZero() {
    double[] zeros = new double[4];
    assertArrayEquals(zeros, score(Map.of()));
    assertArrayEquals(zeros, score(Map.of("x-preferred-zone", "")));
    assertArrayEquals(zeros, score(Map.of("x-preferred-zone", "c")));
    assertArrayEquals(zeros, score(Map.of("x-preferred-zone", "A")), "values compare exactly");
    assertArrayEquals(zeros, score(Map.of("rack", "b")));
  }

  @Test
  void bothParametersAreRequired() {
    PluginConfigException e = assertThrows(PluginConfigException.class,
        () -> createThroughFactory("s", Parameters.of(Map.of("labelKey", "zone"))));
    assertEquals("parameter 'headerName' is required", e.getMessage());
    e = assertThrows(PluginConfigException.class,
        () -> createThroughFactory("s", Parameters.of(Map.of("headerName", "h", "labelKey", ""))));
    assertEquals("parameter 'labelKey' is required", e.getMessage());
  }

  @Override
  public RequestContext newContext() {
    return Fixtures.context("m", Map.of("x-preferred-zone", "a"));
  }
}
