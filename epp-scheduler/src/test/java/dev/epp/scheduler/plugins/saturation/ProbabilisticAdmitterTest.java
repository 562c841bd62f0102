package dev.epp.scheduler.plugins.saturation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.epp.api.InferenceException;
import dev.epp.api.InferenceRequest;
import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.RequestContext;
import dev.epp.api.scheduling.Candidates;
import dev.epp.testkit.Fixtures;
import dev.epp.testkit.PluginContract;
import java.util.Map;
import java.util.random.RandomGenerator;
import org.junit.jupiter.api.Test;

class ProbabilisticAdmitterTest implements PluginContract {

  /** Saturation (0.2 + 0.1) / 2 = 0.15: rejection probability 0.15^5 × 300 ≈ 0.0228 with the defaults. */
  private static final Candidates LIGHT = Fixtures.candidates(Fixtures.metrics(1, 0.0), Fixtures.metrics(0, 0.08));

  @Override
  public PluginFactory factory() {
    return new ProbabilisticAdmitter.Factory();
  }

  @Override
  public Parameters validParameters() {
    return Parameters.of(Map.of("queueDepthThreshold", 10, "kvCacheUtilThreshold", 0.9, "power", 2.0, "k", 100));
  }

  /** An admitter with default parameters whose every draw is {@code draw}. */
  private static ProbabilisticAdmitter drawing(double draw) {
    return drawing(Parameters.empty(), draw);
  }

  /** An admitter configured by {@code parameters} whose every draw is {@code draw}. */
  private static ProbabilisticAdmitter drawing(Parameters parameters, double draw) {
    return new ProbabilisticAdmitter("admitter", parameters, new RandomGenerator() {
      @Override
      public long nextLong() {
        throw new UnsupportedOperationException();
      }

      @Override
      public double nextDouble() {
        return draw;
      }
    });
  }

  private static RequestContext request(int priority) {
    return new RequestContext(InferenceRequest.builder().requestId("r").model("m").priority(priority).build());
  }

  @Test
  void rejectsSheddableRequestsBelowTheProbability() {
    InferenceException e = assertThrows(InferenceException.class, () -> drawing(0.022).admit(request(-1), LIGHT));
    assertEquals(InferenceException.Code.RESOURCE_EXHAUSTED, e.code());
    assertEquals("probabilistic-admitter: rejected, saturation=0.150 prob=0.02", e.getMessage());
    drawing(0.0235).admit(request(-1), LIGHT);
  }

  @Test
  void alwaysAdmitsPriorityZeroAndAbove() {
    Candidates full = Fixtures.candidates(Fixtures.metrics(50, 1.0));
    drawing(0).admit(request(0), full);
    drawing(0).admit(request(3), full);
    assertThrows(InferenceException.class, () -> drawing(0).admit(request(-1), full));
  }

  @Test
  void admitsWithoutCandidates() {
    drawing(0).admit(request(-1), Fixtures.candidates());
  }

  @Test
  void neverScrapedCandidatesCountAsSaturated() {
    assertEquals(1.0, drawing(0).saturation(Fixtures.unscraped(3)));
    assertThrows(InferenceException.class, () -> drawing(0.999).admit(request(-1), Fixtures.unscraped(3)));
  }

  @Test
  void saturationIsTheMeanOfTheLargerRatio() {
    ProbabilisticAdmitter admitter =
        drawing(Parameters.of(Map.of("queueDepthThreshold", 4, "kvCacheUtilThreshold", 0.5)), 0);
    // max(2/4, 0.1/0.5) = 0.5 and max(0/4, 0.4/0.5) = 0.8
    assertEquals(0.65, admitter.saturation(Fixtures.candidates(Fixtures.metrics(2, 0.1), Fixtures.metrics(0, 0.4))),
        1e-12);
  }

  @Test
  void powerAndKShapeTheCurve() {
    // Saturation 0.15 with power 1 and k 2: probability 0.3.
    ProbabilisticAdmitter linear = drawing(Parameters.of(Map.of("power", 1, "k", 2)), 0.29);
    InferenceException e = assertThrows(InferenceException.class, () -> linear.admit(request(-1), LIGHT));
    assertEquals("probabilistic-admitter: rejected, saturation=0.150 prob=0.30", e.getMessage());
  }

  @Test
  void rejectsParametersNotAboveZero() {
    for (String key : new String[] {"queueDepthThreshold", "kvCacheUtilThreshold", "power", "k"}) {
      PluginConfigException e = assertThrows(PluginConfigException.class,
          () -> drawing(Parameters.of(Map.of(key, 0)), 0));
      assertEquals(key, e.parameter());
    }
  }
}
