package dev.epp.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.ProfileResult;
import dev.epp.api.scheduling.SchedulingResult;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Validation and derived values of the API's value types. */
class ValuesTest {

  @Test
  void endpointHostPortBracketsIpv6() {
    assertEquals("10.0.0.1:8000", Endpoint.of("a", "10.0.0.1", 8000).hostPort());
    assertEquals("[fd00::1]:8000", Endpoint.of("a", "fd00::1", 8000).hostPort());
    assertThrows(IllegalArgumentException.class, () -> Endpoint.of("a", "10.0.0.1", 0));
    assertThrows(IllegalArgumentException.class, () -> Endpoint.of(" ", "10.0.0.1", 80));
  }

  @Test
  void metricsFreshnessAndValidation() {
    EndpointMetrics m = EndpointMetrics.builder().waitingQueueSize(2).updatedNanos(1_000).build();
    assertTrue(m.isFresh(1_500, 500));
    assertFalse(m.isFresh(1_501, 500));
    assertFalse(EndpointMetrics.none().isFresh(Long.MIN_VALUE + 1, Long.MAX_VALUE));
    assertEquals(m, m.toBuilder().build());
    assertThrows(IllegalArgumentException.class, () -> EndpointMetrics.builder().kvCacheUsage(1.5).build());
    assertThrows(IllegalArgumentException.class, () -> EndpointMetrics.builder().kvCacheUsage(Double.NaN).build());
    assertThrows(IllegalArgumentException.class, () -> EndpointMetrics.builder().waitingQueueSize(-1).build());
  }

  @Test
  void requestBuilderDefaultsTargetToIncomingModel() {
    InferenceRequest r = InferenceRequest.builder().model("m").priority(-1).build();
    assertEquals("m", r.targetModel());
    assertTrue(r.isSheddable());
    assertEquals("t", InferenceRequest.builder().model("m").targetModel("t").build().targetModel());
  }

  @Test
  void schedulingResultRequiresAPrimaryWithTargets() {
    Endpoint a = Endpoint.of("a", "10.0.0.1", 8000);
    SchedulingResult result = new SchedulingResult("p", Map.of("p", new ProfileResult(List.of(a))));
    assertEquals(List.of(a), result.targets());
    assertThrows(IllegalArgumentException.class,
        () -> new SchedulingResult("p", Map.of("p", ProfileResult.none())));
    assertThrows(IllegalArgumentException.class, () -> new SchedulingResult("q", Map.of()));
  }

  @Test
  void candidatesOverListsChecksSizesAndIndexes() {
    Candidates c = Candidates.of(List.of(Endpoint.of("a", "10.0.0.1", 8000)));
    assertEquals(1, c.size());
    assertEquals(0, c.position(0));
    assertEquals(EndpointMetrics.none(), c.metrics(0));
    assertThrows(IndexOutOfBoundsException.class, () -> c.position(1));
    assertThrows(IllegalArgumentException.class,
        () -> Candidates.of(List.of(Endpoint.of("a", "10.0.0.1", 8000)), List.of()));
  }

  @Test
  void typedNameRendersNameSlashType() {
    assertEquals("my-queue/queue-scorer", new TypedName("queue-scorer", "my-queue").toString());
    assertEquals(TypedName.of("x"), new TypedName("x", "x"));
  }

  @Test
  void releasingThePromptKeepsTheRestOfTheRequestAndItsState() {
    StateKey<String> key = StateKey.of("test", String.class);
    InferenceRequest request = InferenceRequest.builder().requestId("r").model("m").targetModel("t")
        .headers(Map.of("h", "v")).body(new RequestBody(RequestBody.Api.CHAT_COMPLETIONS, true, "salt", "[{}]"))
        .priority(-1).sizeBytes(42).build();
    RequestContext context = new RequestContext(request);
    context.put(key, "kept");
    context.releasePrompt();
    assertEquals(new InferenceRequest("r", "m", "t", Map.of("h", "v"),
        new RequestBody(RequestBody.Api.CHAT_COMPLETIONS, true, "salt", ""), -1, 42), context.request());
    assertEquals("kept", context.get(key));
  }
}
