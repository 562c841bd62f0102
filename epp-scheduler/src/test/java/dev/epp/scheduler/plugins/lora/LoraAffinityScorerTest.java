package dev.epp.scheduler.plugins.lora;

import static dev.epp.testkit.Fixtures.ADAPTER;
import static dev.epp.testkit.Fixtures.candidates;
import static dev.epp.testkit.Fixtures.metrics;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.epp.api.EndpointMetrics;
import dev.epp.api.InferenceRequest;
import dev.epp.api.PluginFactory;
import dev.epp.api.RequestContext;
import dev.epp.api.scheduling.Candidates;
import dev.epp.testkit.Fixtures;
import dev.epp.testkit.ScorerContract;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class LoraAffinityScorerTest implements ScorerContract<LoraAffinityScorer> {

  @Override
  public LoraAffinityScorer newScorer() {
    return new LoraAffinityScorer("lora");
  }

  @Override
  public PluginFactory factory() {
    return new LoraAffinityScorer.Factory();
  }

  @Test
  void activeAdapterScoresOne() {
    assertEquals(1.0, score(metrics(0, 0, ADAPTER, "a", "b", "c")));
  }

  @Test
  void roomToLoadScoresPointEight() {
    assertEquals(0.8, score(metrics(0, 0, "a")));
    // Room is checked before the waiting list.
    assertEquals(0.8, score(metrics(0, 0, "a").toBuilder().waitingModels(Set.of(ADAPTER)).build()));
  }

  @Test
  void waitingAdapterWithoutRoomScoresPointSix() {
    assertEquals(0.6, score(metrics(0, 0, "a", "b", "c").toBuilder().waitingModels(Set.of(ADAPTER)).build()));
  }

  @Test
  void noRoomAndNotWaitingScoresZero() {
    assertEquals(0.0, score(metrics(0, 0, "a", "b", "c", "d")));
    assertEquals(0.0, score(metrics(0, 0).toBuilder().maxActiveModels(0).build()));
  }

  @Test
  void usesTheTargetModelAfterRewrite() {
    RequestContext rewritten =
        new RequestContext(InferenceRequest.builder().model("base-model").targetModel(ADAPTER).build());
    Candidates candidates =
        candidates(metrics(0, 0, ADAPTER, "a", "b", "c"), metrics(0, 0, "base-model", "a", "b", "c"));
    double[] scores = new double[2];
    newScorer().score(rewritten, candidates, scores);
    assertArrayEquals(new double[] {1.0, 0.0}, scores);
  }

  private double score(EndpointMetrics metrics) {
    double[] scores = new double[1];
    newScorer().score(Fixtures.context(ADAPTER, Map.of()), candidates(metrics), scores);
    return scores[0];
  }
}
