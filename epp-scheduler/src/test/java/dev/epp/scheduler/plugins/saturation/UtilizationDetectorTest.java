package dev.epp.scheduler.plugins.saturation;

import static dev.epp.scheduler.plugins.filter.Filtering.kept;
import static dev.epp.testkit.Fixtures.NOW;
import static dev.epp.testkit.Fixtures.candidates;
import static dev.epp.testkit.Fixtures.metrics;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.EndpointMetrics;
import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.scheduling.Candidates;
import dev.epp.testkit.FakeTicker;
import dev.epp.testkit.FilterContract;
import dev.epp.testkit.Fixtures;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class UtilizationDetectorTest implements FilterContract<UtilizationDetector> {

  private final FakeTicker ticker = new FakeTicker();

  @Override
  public UtilizationDetector newFilter() {
    return new UtilizationDetector("detector", Parameters.empty(), ticker);
  }

  @Override
  public PluginFactory factory() {
    return new UtilizationDetector.Factory();
  }

  // Saturation, with the cases of Go's detector_test.go.

  @Test
  void noCandidatesIsSaturated() {
    assertEquals(1.0, newFilter().saturation(candidates()));
  }

  @Test
  void saturationIsTheWorseOfQueueAndCacheRatio() {
    UtilizationDetector detector = detector(Map.of("kvCacheUtilThreshold", 0.9, "metricsStalenessThreshold", "100ms"));
    assertEquals(0.5 / 0.9, detector.saturation(candidates(metrics(2, 0.5))), 1e-9);
    assertEquals(2.0, detector.saturation(candidates(metrics(10, 0.1))), 1e-9);
    assertEquals(0.95 / 0.9, detector.saturation(candidates(metrics(1, 0.95))), 1e-9);
    assertEquals(1.0, detector.saturation(candidates(metrics(5, 0.1))), 1e-9);
  }

  @Test
  void saturationIsTheMeanOverCandidates() {
    UtilizationDetector detector = detector(Map.of("kvCacheUtilThreshold", 0.9, "metricsStalenessThreshold", "100ms"));
    assertEquals((0.2 + 0.2 / 0.9) / 2, detector.saturation(candidates(metrics(1, 0.1), metrics(0, 0.2))), 1e-9);
    assertEquals(1.6, detector.saturation(candidates(metrics(1, 0.1), metrics(15, 0.2))), 1e-9);
  }

  @Test
  void staleOrUnscrapedCandidatesCountAsSaturated() {
    UtilizationDetector detector = detector(Map.of("kvCacheUtilThreshold", 0.9, "metricsStalenessThreshold", "100ms"));
    Candidates candidates = candidates(metrics(1, 0.1), scrapedAgo(300, metrics(0, 0.2)));
    assertEquals(0.6, detector.saturation(candidates), 1e-9);
    assertEquals(1.0, detector.saturation(candidates(EndpointMetrics.none())), 1e-9);
    Candidates mixed = candidates(scrapedAgo(200, metrics(1, 0.1)), metrics(20, 0.2), metrics(1, 0.99));
    assertEquals((1.0 + 4.0 + 1.1) / 3, detector.saturation(mixed), 1e-9);
  }

  @Test
  void metricsTurnStaleAfterTheThreshold() {
    UtilizationDetector detector = detector(Map.of("metricsStalenessThreshold", "100ms"));
    Candidates candidates = candidates(metrics(0, 0.0));
    ticker.advance(Duration.ofMillis(100));
    assertEquals(0.0, detector.saturation(candidates));
    ticker.advance(Duration.ofNanos(1));
    assertEquals(1.0, detector.saturation(candidates));
  }

  @Test
  void defaultsAreGoDefaults() {
    UtilizationDetector detector = newFilter();
    assertEquals(0.4 / 0.8, detector.saturation(candidates(metrics(1, 0.4))), 1e-9); // kv 0.8 beats queue 1/5
    assertEquals(3.0 / 5, detector.saturation(candidates(metrics(3, 0.0))), 1e-9);
    assertEquals("{0}", kept(detector, Fixtures.context(), candidates(metrics(4, 0.79), metrics(5, 0.0))));
    assertEquals("{0}", kept(detector, Fixtures.context(), candidates(metrics(4, 0.79), metrics(0, 0.8))));
    ticker.advance(Duration.ofMillis(200));
    assertEquals(0.0, detector.saturation(candidates(metrics(0, 0.0))));
    ticker.advance(Duration.ofNanos(1));
    assertEquals(1.0, detector.saturation(candidates(metrics(0, 0.0))));
  }

  // Filter, with the cases of Go's detector_test.go (limits: queue 5 × 1.2 = 6, KV 0.8 × 1.2 = 0.96).

  @Test
  void filterKeepsCandidatesUnderTheLimitsWithHeadroom() {
    UtilizationDetector detector = detector(Map.of("headroom", 0.2, "metricsStalenessThreshold", "100ms"));
    assertEquals("{0, 1}", kept(detector, Fixtures.context(), candidates(metrics(1, 0.1), metrics(4, 0.7))));
    assertEquals("{0}", kept(detector, Fixtures.context(), candidates(metrics(5, 0.9))));
    assertEquals("{1}", kept(detector, Fixtures.context(), candidates(metrics(7, 0.1), metrics(1, 0.1))));
    assertEquals("{1}", kept(detector, Fixtures.context(), candidates(metrics(1, 0.97), metrics(1, 0.5))));
    assertEquals("{0, 2}",
        kept(detector, Fixtures.context(), candidates(metrics(5, 0.95), metrics(6, 0.1), metrics(0, 0.0))));
  }

  @Test
  void filterRejectsStaleCandidates() {
    UtilizationDetector detector = detector(Map.of("metricsStalenessThreshold", "100ms"));
    Candidates candidates = candidates(scrapedAgo(200, metrics(0, 0.0)), EndpointMetrics.none(), metrics(1, 0.1));
    assertEquals("{2}", kept(detector, Fixtures.context(), candidates));
  }

  @Test
  void filterKeepsEveryoneWhenNoneQualifies() {
    UtilizationDetector detector = detector(Map.of("headroom", 0.2, "metricsStalenessThreshold", "100ms"));
    assertEquals("{0, 1}", kept(detector, Fixtures.context(),
        candidates(scrapedAgo(200, metrics(1, 0.1)), scrapedAgo(200, metrics(1, 0.1)))));
    assertEquals("{0, 1}", kept(detector, Fixtures.context(), candidates(metrics(10, 0.1), metrics(1, 0.99))));
  }

  @Test
  void factoryUsesTheHandlesTicker() {
    UtilizationDetector detector = (UtilizationDetector) createThroughFactory("d", Parameters.empty());
    // The kit's handle ticker is a fresh FakeTicker at NOW: metrics scraped at NOW are fresh.
    assertEquals(0.0, detector.saturation(candidates(metrics(0, 0.0))));
  }

  @Test
  void acceptsValidParameters() {
    detector(Map.of("queueDepthThreshold", 1, "kvCacheUtilThreshold", 1.0, "metricsStalenessThreshold", "1.5s",
        "headroom", 2.0));
    detector(Map.of("metricsStalenessThreshold", "1m30s"));
  }

  @Test
  void rejectsInvalidParameters() {
    assertRejected("queueDepthThreshold", Map.of("queueDepthThreshold", 0));
    assertRejected("queueDepthThreshold", Map.of("queueDepthThreshold", -1));
    assertRejected("queueDepthThreshold", Map.of("queueDepthThreshold", "five"));
    assertRejected("kvCacheUtilThreshold", Map.of("kvCacheUtilThreshold", 0.0));
    assertRejected("kvCacheUtilThreshold", Map.of("kvCacheUtilThreshold", 1.5));
    assertRejected("metricsStalenessThreshold", Map.of("metricsStalenessThreshold", "0s"));
    assertRejected("metricsStalenessThreshold", Map.of("metricsStalenessThreshold", "0"));
    assertRejected("metricsStalenessThreshold", Map.of("metricsStalenessThreshold", "-1s"));
    assertRejected("metricsStalenessThreshold", Map.of("metricsStalenessThreshold", "soon"));
    assertRejected("headroom", Map.of("headroom", -0.5));
  }

  @Test
  void durationWithoutUnitIsRejectedClearly() {
    String key = "metricsStalenessThreshold";
    PluginConfigException text = assertRejected(key, Map.of(key, "200"));
    assertTrue(text.getMessage().contains("missing unit"), text::getMessage);
    PluginConfigException number = assertRejected(key, Map.of(key, 200));
    assertTrue(number.getMessage().contains("\"200ms\""), number::getMessage);
  }

  private UtilizationDetector detector(Map<String, Object> parameters) {
    return new UtilizationDetector("detector", Parameters.of(parameters), ticker);
  }

  private PluginConfigException assertRejected(String parameter, Map<String, Object> parameters) {
    PluginConfigException e = assertThrows(PluginConfigException.class, () -> detector(parameters));
    assertEquals(parameter, e.parameter(), e.getMessage());
    return e;
  }

  private static EndpointMetrics scrapedAgo(long millis, EndpointMetrics metrics) {
    return metrics.toBuilder().updatedNanos(NOW - Duration.ofMillis(millis).toNanos()).build();
  }
}
