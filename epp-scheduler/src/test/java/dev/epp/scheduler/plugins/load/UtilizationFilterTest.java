package dev.epp.scheduler.plugins.load;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
import dev.epp.scheduler.plugins.filter.Filtering;
import dev.epp.testkit.FakeTicker;
import dev.epp.testkit.Fixtures;
import dev.epp.testkit.FilterContract;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class UtilizationFilterTest implements FilterContract<UtilizationFilter> {

  private final InFlightLoadProducer producer = new InFlightLoadProducer(InFlightLoadProducer.TYPE,
      Parameters.empty());
  private final PluginHandle handle = InFlightHandles.with(producer);
  /** Queue 0, 3, 9 and KV usage 0.2, 0.9, 0.5; running 1, 5, 0. */
  private final Candidates candidates = Fixtures.candidates(
      Fixtures.metrics(0, 0.2).toBuilder().runningRequests(1).build(),
      Fixtures.metrics(3, 0.9).toBuilder().runningRequests(5).build(),
      Fixtures.metrics(9, 0.5));

  @Override
  public UtilizationFilter newFilter() {
    return filter(Map.of("conditions", List.of(condition("active-requests", 2), condition("waiting-queue", 5))));
  }

  @Override
  public PluginFactory factory() {
    return new UtilizationFilter.Factory();
  }

  @Override
  public PluginHandle newHandle() {
    return handle;
  }

  @Override
  public Parameters validParameters() {
    return Parameters.of(Map.of("conditions", List.of(condition("kv-cache-utilization", 0.8)),
        "fallbackOnEmpty", true, "inFlightLoadProducerName", InFlightLoadProducer.TYPE));
  }

  private static Map<String, Object> condition(String metric, Object maxValue) {
    return Map.of("metric", metric, "maxValue", maxValue);
  }

  private UtilizationFilter filter(Map<String, Object> parameters) {
    return UtilizationFilter.create("utilization", Parameters.of(parameters), handle);
  }

  private String kept(Map<String, Object> parameters) {
    return Filtering.kept(filter(parameters), Fixtures.context(), candidates);
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

  @Test
  void capsEachScrapedMetricInclusively() {
    assertEquals("{0, 1}", kept(Map.of("conditions", List.of(condition("waiting-queue", 3)))));
    assertEquals("{0, 2}", kept(Map.of("conditions", List.of(condition("running-requests", 4)))));
    assertEquals("{0, 2}", kept(Map.of("conditions", List.of(condition("kv-cache-utilization", 0.5)))));
  }

  @Test
  void capsRequestsInFlight() {
    load(0, 3);
    load(1, 2);
    assertEquals("{1, 2}", kept(Map.of("conditions", List.of(condition("active-requests", 2)))));
  }

  @Test
  void keepsOnlyCandidatesWithinEveryCap() {
    assertEquals("{0}", kept(Map.of("conditions",
        List.of(condition("waiting-queue", 5), condition("kv-cache-utilization", 0.8)))));
  }

  @Test
  void neverScrapedCandidatesCountAsZero() {
    UtilizationFilter filter = filter(Map.of("conditions", List.of(condition("waiting-queue", 0))));
    assertEquals("{0, 1}", Filtering.kept(filter, Fixtures.context(), Fixtures.unscraped(2)));
  }

  @Test
  void dropsEveryCandidateUnlessFallbackOnEmpty() {
    List<Map<String, Object>> none = List.of(condition("kv-cache-utilization", 0.1));
    assertEquals("{}", kept(Map.of("conditions", none)));
    assertEquals("{0, 1, 2}", kept(Map.of("conditions", none, "fallbackOnEmpty", true)));
    assertEquals("{0}", kept(Map.of("conditions", List.of(condition("kv-cache-utilization", 0.2)),
        "fallbackOnEmpty", true)));
  }

  @Test
  void rejectsInvalidConditions() {
    assertEquals("conditions", rejected(Map.of()));
    assertEquals("conditions", rejected(Map.of("conditions", List.of())));
    assertEquals("conditions[0].metric", rejected(Map.of("conditions", List.of(condition("gpu", 1)))));
    assertEquals("conditions[0].metric", rejected(Map.of("conditions", List.of(Map.of("maxValue", 1)))));
    assertEquals("conditions[1].maxValue", rejected(Map.of("conditions",
        List.of(condition("waiting-queue", 1), Map.of("metric", "waiting-queue")))));
    assertEquals("conditions[0].maxValue", rejected(Map.of("conditions", List.of(condition("waiting-queue", -1)))));
    assertEquals("conditions[0].maxValue",
        rejected(Map.of("conditions", List.of(condition("kv-cache-utilization", 1.5)))));
  }

  @Test
  void activeRequestsNeedTheProducer() {
    PluginConfigException e = assertThrows(PluginConfigException.class,
        () -> UtilizationFilter.create("u", Parameters.of(Map.of("conditions",
            List.of(condition("active-requests", 1)))), Fixtures.handle(new FakeTicker())));
    assertEquals(InFlightLoad.PRODUCER_NAME, e.parameter());
    // Without an active-requests condition no producer is needed.
    UtilizationFilter.create("u", Parameters.of(Map.of("conditions", List.of(condition("waiting-queue", 1)))),
        Fixtures.handle(new FakeTicker()));
  }

  @Test
  void isExperimental() {
    assertEquals(true, factory().experimental());
  }

  private String rejected(Map<String, Object> parameters) {
    return assertThrows(PluginConfigException.class, () -> filter(parameters)).parameter();
  }
}
