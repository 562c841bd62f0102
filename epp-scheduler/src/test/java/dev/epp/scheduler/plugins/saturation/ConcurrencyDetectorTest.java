package dev.epp.scheduler.plugins.saturation;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
import dev.epp.scheduler.plugins.load.InFlightHandles;
import dev.epp.scheduler.plugins.load.InFlightLoadProducer;
import dev.epp.testkit.FilterContract;
import dev.epp.testkit.Fixtures;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ConcurrencyDetectorTest implements FilterContract<ConcurrencyDetector> {

  private final InFlightLoadProducer producer = new InFlightLoadProducer("load", Parameters.empty());
  private final Candidates candidates = Fixtures.candidates(Fixtures.metrics(0, 0), Fixtures.metrics(0, 0));

  @Override
  public ConcurrencyDetector newFilter() {
    return detector(Map.of());
  }

  @Override
  public PluginFactory factory() {
    return new ConcurrencyDetector.Factory();
  }

  @Override
  public PluginHandle newHandle() {
    return InFlightHandles.withDefaultProducer();
  }

  private ConcurrencyDetector detector(Map<String, Object> parameters) {
    return new ConcurrencyDetector("concurrency", Parameters.of(parameters), producer);
  }

  /** Routes {@code requests} requests of {@code tokens} estimated tokens each to candidate {@code i}. */
  private void load(int i, int requests, int tokens) {
    for (int k = 0; k < requests; k++) {
      RequestContext context = new RequestContext(InferenceRequest.builder().requestId("r" + k).model("m")
          .body(RequestBody.completion("x".repeat(4 * tokens))).build());
      producer.prepareData(context, candidates);
      producer.preRequest(context,
          new SchedulingResult("p", Map.of("p", new ProfileResult(List.of(candidates.endpoint(i))))));
    }
  }

  private BitSet filter(ConcurrencyDetector detector) {
    BitSet keep = new BitSet();
    keep.set(0, candidates.size());
    detector.filter(Fixtures.context(), candidates, keep);
    return keep;
  }

  @Test
  void requestModeSaturationIsInFlightRequestsOverPoolCapacity() {
    load(0, 3, 10);
    load(1, 1, 10);
    assertEquals(0.5, detector(Map.of("maxConcurrency", 4)).saturation(candidates), 1e-9);
    assertEquals(4.0 / 200, newFilter().saturation(candidates), 1e-9); // default maxConcurrency 100
  }

  @Test
  void tokenModeSaturationIsInFlightTokensOverPoolCapacity() {
    load(0, 1, 300);
    load(1, 1, 100);
    assertEquals(0.2,
        detector(Map.of("concurrencyMode", "tokens", "maxTokenConcurrency", 1000)).saturation(candidates), 1e-9);
  }

  @Test
  void hybridSaturationAveragesEachEndpointsTighterDimension() {
    load(0, 4, 1);   // requests 4/4 = 1.0, tokens 4/100
    load(1, 1, 50);  // requests 1/4, tokens 50/100 = 0.5
    ConcurrencyDetector hybrid =
        detector(Map.of("concurrencyMode", "hybrid", "maxConcurrency", 4, "maxTokenConcurrency", 100));
    assertEquals((1.0 + 0.5) / 2, hybrid.saturation(candidates), 1e-9);
  }

  @Test
  void noCandidatesIsSaturated() {
    assertEquals(1.0, newFilter().saturation(Fixtures.candidates()), 1e-9);
  }

  @Test
  void filterDropsEndpointsAtTheLimitWithHeadroom() {
    load(0, 2, 1);
    load(1, 1, 1);
    assertEquals(BitSet.valueOf(new long[] {0b10}), filter(detector(Map.of("maxConcurrency", 2))));
    assertEquals(BitSet.valueOf(new long[] {0b11}), filter(detector(Map.of("maxConcurrency", 2, "headroom", 0.5))));
    assertEquals(new BitSet(), filter(detector(Map.of("maxConcurrency", 1))), "does not fail open");
  }

  @Test
  void hybridFilterDropsAnEndpointAtEitherLimit() {
    load(0, 1, 100);
    load(1, 1, 1);
    ConcurrencyDetector hybrid =
        detector(Map.of("concurrencyMode", "hybrid", "maxConcurrency", 2, "maxTokenConcurrency", 100));
    assertEquals(BitSet.valueOf(new long[] {0b10}), filter(hybrid));
    ConcurrencyDetector tokens = detector(Map.of("concurrencyMode", "tokens", "maxTokenConcurrency", 100));
    assertEquals(BitSet.valueOf(new long[] {0b10}), filter(tokens));
  }

  @Test
  void rejectsInvalidParameters() {
    PluginConfigException mode =
        assertThrows(PluginConfigException.class, () -> detector(Map.of("concurrencyMode", "bytes")));
    assertTrue(mode.getMessage().contains("requests, tokens or hybrid"), mode.getMessage());
    assertThrows(PluginConfigException.class, () -> detector(Map.of("maxConcurrency", 0)));
    assertThrows(PluginConfigException.class, () -> detector(Map.of("maxTokenConcurrency", -1)));
    assertThrows(PluginConfigException.class, () -> detector(Map.of("headroom", -0.1)));
  }
}
