package dev.epp.extproc;

import static dev.epp.extproc.ExtProcHarness.requestBody;
import static dev.epp.extproc.ExtProcHarness.requestHeaders;
import static dev.epp.extproc.ExtProcHarness.responseBody;
import static dev.epp.extproc.ExtProcHarness.responseHeaders;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.extproc.ExtProcHarness.Exchange;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.service.ext_proc.v3.ImmediateResponse;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingResponse;
import io.grpc.ManagedChannel;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Flow control over real ext_proc streams: a pool whose concurrency limit is reached holds requests in the EPP, and
 * every held stream gets exactly one answer, routed or dropped with llm-d's status and reason.
 */
class ExtProcFlowControlTest {

  /** One pod that takes one request at a time: the second request must wait. */
  private static final String CONFIG = """
      apiVersion: llm-d.ai/v1alpha1
      kind: EndpointPickerConfig
      featureGates:
      - flowControl
      plugins:
      - type: queue-scorer
      - type: max-score-picker
      - type: inflight-load-producer
      - name: one-at-a-time
        type: concurrency-detector
        parameters:
          maxConcurrency: 1
      - name: rr
        type: round-robin-fairness-policy
      schedulingProfiles:
      - name: default
        plugins:
        - pluginRef: queue-scorer
        - pluginRef: max-score-picker
      flowControl:
        saturationDetector:
          pluginRef: one-at-a-time
        priorityBands:
        - priority: 2
          fairnessPolicyRef: rr
      """;

  private ExtProcHarness epp;

  @AfterEach
  void close() throws InterruptedException {
    if (epp != null) {
      epp.close();
    }
  }

  /** Opens a stream and sends a completion request for {@code objective} (its priority) from {@code tenant}. */
  private Exchange send(String tenant, String objective, String prompt) {
    Map<String, String> headers = new LinkedHashMap<>();
    headers.put(":path", "/v1/completions");
    headers.put("x-gateway-inference-objective", objective);
    headers.put("x-gateway-inference-fairness-id", tenant);
    Exchange exchange = epp.open();
    exchange.send(requestHeaders(headers, false));
    exchange.send(requestBody(ExtProcHarness.completion(objective, prompt), true));
    return exchange;
  }

  /** One pod, busy with a routed request of {@code tenant}: the next request must wait. */
  private Exchange busyPod(String tenant) {
    epp.pod(0, 0, 0.0);
    Exchange busy = send(tenant, "my-model", "busy");
    busy.awaitResponses(2);
    return busy;
  }

  /** Whether the EPP has answered the stream's request headers: it was routed. */
  private static boolean routed(Exchange exchange) {
    return exchange.received().stream().anyMatch(ProcessingResponse::hasRequestHeaders);
  }

  /** Completes the stream's upstream response, which frees the pod, and ends the stream. */
  private static void finish(Exchange exchange) {
    exchange.send(responseHeaders(Map.of(":status", "200")));
    exchange.send(responseBody("{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}", true));
    exchange.halfClose();
    exchange.await();
  }

  /** The value of the first sample of {@code family} whose labels contain {@code labels}, or 0. */
  private double metric(String family, String labels) {
    Matcher m = Pattern.compile("(?m)^" + family + "\\{([^}]*)} (\\S+)$").matcher(epp.scrape());
    while (m.find()) {
      if (m.group(1).contains(labels)) {
        return Double.parseDouble(m.group(2));
      }
    }
    return 0;
  }

  private void awaitQueued(int requests) {
    Awaitility.await(requests + " queued").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(5))
        .until(() -> queued() == requests);
  }

  /** Requests held now, summed over flows. */
  private double queued() {
    Matcher m = Pattern.compile("(?m)^llm_d_epp_flow_control_queue_size\\{[^}]*} (\\S+)$").matcher(epp.scrape());
    double sum = 0;
    while (m.find()) {
      sum += Double.parseDouble(m.group(1));
    }
    return sum;
  }

  private static ImmediateResponse dropped(Exchange exchange) {
    List<ProcessingResponse> responses = exchange.await();
    assertEquals(1, responses.size(), responses.toString());
    assertTrue(responses.get(0).hasImmediateResponse(), responses.toString());
    return responses.get(0).getImmediateResponse();
  }

  private static String header(ImmediateResponse response, String name) {
    for (var option : response.getHeaders().getSetHeadersList()) {
      HeaderValue header = option.getHeader();
      if (header.getKey().equals(name)) {
        return header.getRawValue().toStringUtf8();
      }
    }
    return null;
  }

  @Test
  void aSaturatedPoolQueuesTheRequestAndDispatchesItWhenThePodFreesUp() {
    epp = new ExtProcHarness(CONFIG);
    epp.pod(0, 0, 0.0);
    Exchange first = send("tenant", "my-model", "first");
    first.awaitResponses(2);
    Exchange second = send("tenant", "my-model", "second");
    awaitQueued(1);
    assertEquals(List.of(), second.received(), "held while the pod is busy");
    assertEquals(1, metric("llm_d_epp_flow_control_queue_size", "fairness_id=\"tenant\",inference_pool=\"\","
        + "model_name=\"my-model\",priority=\"2\",target_model_name=\"my-model\""));

    finish(first);
    second.awaitResponses(2);
    assertTrue(routed(second));
    assertEquals(0, queued());
    assertEquals(2, metric("llm_d_epp_flow_control_requests_total", "outcome=\"Dispatched\",priority=\"2\""));
    finish(second);
  }

  @Test
  void theHigherPriorityGoesFirstWhateverTheArrivalOrder() {
    epp = new ExtProcHarness(CONFIG);
    Exchange busy = busyPod("tenant");
    Exchange sheddable = send("tenant", "batch-sheddable", "low");
    Exchange critical = send("tenant", "sql-lora", "high");
    awaitQueued(2);

    finish(busy);
    critical.awaitResponses(2);
    assertEquals(List.of(), sheddable.received(), "the lower band waits while the higher one holds the pod");
    finish(critical);
    sheddable.awaitResponses(2);
    finish(sheddable);
  }

  @Test
  void roundRobinAlternatesBetweenTheTenantsOfABand() {
    epp = new ExtProcHarness(CONFIG);
    Exchange busy = busyPod("other");
    Map<Exchange, String> names = new LinkedHashMap<>();
    for (int i = 1; i <= 3; i++) {
      names.put(send("one", "my-model", "one-" + i), "one-" + i);
      awaitQueued(i);
    }
    for (int i = 1; i <= 2; i++) {
      names.put(send("two", "my-model", "two-" + i), "two-" + i);
      awaitQueued(3 + i);
    }

    List<String> order = new ArrayList<>();
    Exchange running = busy;
    while (order.size() < names.size()) {
      finish(running);
      Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(2))
          .until(() -> names.keySet().stream().filter(e -> routed(e) && !order.contains(names.get(e))).count() == 1);
      running = names.keySet().stream().filter(e -> routed(e) && !order.contains(names.get(e))).findFirst()
          .orElseThrow();
      order.add(names.get(running));
    }
    finish(running);
    for (int i = 1; i < 4; i++) {
      assertTrue(order.get(i).charAt(1) != order.get(i - 1).charAt(1), "tenants alternate: " + order);
    }
    assertTrue(order.indexOf("one-1") < order.indexOf("one-2") && order.indexOf("one-2") < order.indexOf("one-3")
        && order.indexOf("two-1") < order.indexOf("two-2"), "first come, first served within a tenant: " + order);
  }

  @Test
  void aRequestThatWaitsItsTtlGets429WithTheDroppedReason() {
    epp = new ExtProcHarness(CONFIG + "  defaultRequestTTL: 200ms\n");
    Exchange busy = busyPod("tenant");
    ImmediateResponse expired = dropped(send("tenant", "my-model", "late"));
    assertEquals(429, expired.getStatus().getCodeValue());
    assertEquals("rejected-ttl-expired", header(expired, "x-llm-d-request-dropped-reason"));
    assertEquals("inference error: ResourceExhausted - request timed out in queue", expired.getBody().toStringUtf8());
    assertEquals(1, metric("llm_d_epp_flow_control_requests_total", "outcome=\"EvictedTTL\""));
    assertEquals(1, metric("inference_objective_request_error_total", "error_code=\"ResourceExhausted\""));
    finish(busy);
  }

  @Test
  void aWaitingBodyStaysCountedAgainstTheBufferBudget() {
    // bodies of 90 bytes; the budget holds two waiting ones, not three
    String pad = "x".repeat(90 - ExtProcHarness.completion("my-model", "w1").length());
    epp = new ExtProcHarness(CONFIG, service -> service.maxRequestBodyBytes(100).maxBufferedBodyBytes(250));
    Exchange busy = busyPod("tenant");
    Exchange first = send("tenant", "my-model", "w1" + pad);
    Exchange second = send("tenant", "my-model", "w2" + pad);
    awaitQueued(2);

    ImmediateResponse refused = dropped(send("tenant", "my-model", "w3" + pad));
    assertEquals(429, refused.getStatus().getCodeValue());
    assertTrue(refused.getBody().toStringUtf8().contains("buffering its limit"), refused.getBody().toStringUtf8());
    finish(busy);
    first.awaitResponses(2);
    finish(first);
    second.awaitResponses(2);
    finish(second);
    Exchange fourth = send("tenant", "my-model", "w4" + pad); // the dispatched bodies left the budget
    fourth.awaitResponses(2);
    finish(fourth);
  }

  @Test
  void theSloDeadlineOrdersABandWhenConfigured() {
    epp = new ExtProcHarness(CONFIG.replace("- name: rr\n", "- type: slo-deadline-ordering-policy\n- name: rr\n")
        .replace("    fairnessPolicyRef: rr\n",
            "    fairnessPolicyRef: rr\n    orderingPolicyRef: slo-deadline-ordering-policy\n"));
    Exchange busy = busyPod("tenant");
    Exchange relaxed = sendWithSlo("relaxed", "x-llm-d-slo-ttft-ms", "60000");
    awaitQueued(1);
    Exchange urgent = sendWithSlo("urgent", "x-slo-ttft-ms", "100"); // the older header name
    awaitQueued(2);

    finish(busy);
    urgent.awaitResponses(2);
    assertEquals(List.of(), relaxed.received(), "the later request with the earlier deadline goes first");
    finish(urgent);
    relaxed.awaitResponses(2);
    finish(relaxed);
  }

  private Exchange sendWithSlo(String prompt, String header, String millis) {
    Map<String, String> headers = new LinkedHashMap<>();
    headers.put(":path", "/v1/completions");
    headers.put("x-gateway-inference-objective", "my-model");
    headers.put(header, millis);
    Exchange exchange = epp.open();
    exchange.send(requestHeaders(headers, false));
    exchange.send(requestBody(ExtProcHarness.completion("my-model", prompt), true));
    return exchange;
  }

  @Test
  void aRequestWaitsForAnEmptyPoolAndIsDispatchedWhenAnEndpointJoins() {
    epp = new ExtProcHarness(CONFIG);
    Exchange early = send("tenant", "my-model", "early");
    awaitQueued(1);
    epp.pod(0, 0, 0.0);
    early.awaitResponses(2);
    assertTrue(routed(early));
    finish(early);
  }

  @Test
  void anEmptyPoolAnswers503WithNoEndpointsAfterItsTtl() {
    epp = new ExtProcHarness(CONFIG + "  noEndpointRequestTTL: 100ms\n");
    ImmediateResponse response = dropped(send("tenant", "my-model", "nobody"));
    assertEquals(503, response.getStatus().getCodeValue());
    assertEquals("rejected-no-endpoints", header(response, "x-llm-d-request-dropped-reason"));
    assertEquals(1, metric("llm_d_epp_flow_control_requests_total", "outcome=\"EvictedNoEndpoints\""));
  }

  @Test
  void aCancelledStreamLeavesTheQueueAtOnceAndIsNeverDispatched() {
    epp = new ExtProcHarness(CONFIG);
    Exchange busy = busyPod("tenant");
    Exchange gone = send("tenant", "my-model", "gone");
    Exchange next = send("tenant", "my-model", "next");
    awaitQueued(2);

    gone.cancel();
    awaitQueued(1);
    assertEquals(1, metric("llm_d_epp_flow_control_requests_total", "outcome=\"EvictedContextCancelled\""));
    finish(busy);
    next.awaitResponses(2);
    finish(next);
    assertEquals(2, metric("llm_d_epp_flow_control_requests_total", "outcome=\"Dispatched\""));
  }

  @Test
  void closingTheDirectorRejectsWhatWaitsAndLetsTheRoutedRequestDrain() {
    epp = new ExtProcHarness(CONFIG);
    Exchange busy = busyPod("tenant");
    Exchange waiting = send("tenant", "my-model", "waiting");
    awaitQueued(1);

    epp.director.close();
    ImmediateResponse rejected = dropped(waiting);
    assertEquals(503, rejected.getStatus().getCodeValue());
    assertEquals("rejected-shutting-down", header(rejected, "x-llm-d-request-dropped-reason"));
    finish(busy);
    ImmediateResponse late = dropped(send("tenant", "my-model", "late"));
    assertEquals("rejected-shutting-down", header(late, "x-llm-d-request-dropped-reason"));
  }

  @Test
  void tenThousandQueuedStreamsHoldNoThreadsAndAllGetAnAnswer() throws InterruptedException {
    // the band's default limit is llm-d's 5,000 requests
    epp = new ExtProcHarness(
        CONFIG.replace("    fairnessPolicyRef: rr\n", "    fairnessPolicyRef: rr\n    maxRequests: 20k\n"));
    Exchange busy = busyPod("tenant");
    int threadsBefore = ManagementFactory.getThreadMXBean().getThreadCount();
    ManagedChannel connection = epp.connect();
    try {
      List<Exchange> waiting = new ArrayList<>();
      Map<String, String> headers = Map.of(":path", "/v1/completions", "x-gateway-inference-objective", "my-model");
      for (int i = 0; i < 10_000; i++) {
        Exchange exchange = ExtProcHarness.exchangeOn(i % 2 == 0 ? connection : epp.channel());
        exchange.send(requestHeaders(headers, false));
        exchange.send(requestBody(ExtProcHarness.completion("my-model", "p" + i), true));
        waiting.add(exchange);
      }
      awaitQueued(10_000);
      int threadsQueued = ManagementFactory.getThreadMXBean().getThreadCount();
      assertTrue(threadsQueued - threadsBefore < 20,
          "threads before " + threadsBefore + ", with 10,000 queued " + threadsQueued);

      epp.director.close();
      for (Exchange exchange : waiting) {
        assertEquals("rejected-shutting-down", header(dropped(exchange), "x-llm-d-request-dropped-reason"));
      }
      assertEquals(10_000, metric("llm_d_epp_flow_control_requests_total", "outcome=\"EvictedOther\""));
    } finally {
      connection.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    finish(busy);
  }

  @Test
  void everyStreamOfABurstIsRoutedExactlyOnceAndTheLimitIsNeverExceeded() {
    epp = new ExtProcHarness(CONFIG.replace("maxConcurrency: 1", "maxConcurrency: 2"));
    epp.pod(0, 0, 0.0);
    epp.pod(1, 0, 0.0);
    String[] tenants = {"a", "b", "c"};
    String[] objectives = {"my-model", "sql-lora", "batch-sheddable", "direct-model"};
    List<Exchange> streams = new ArrayList<>();
    for (int i = 0; i < 120; i++) {
      streams.add(send(tenants[i % 3], objectives[i % 4], "burst-" + i));
    }
    List<Exchange> finished = new ArrayList<>();
    int mostInFlight = 0;
    while (finished.size() < streams.size()) {
      List<Exchange> inFlight = streams.stream().filter(e -> routed(e) && !finished.contains(e)).toList();
      mostInFlight = Math.max(mostInFlight, inFlight.size());
      for (Exchange exchange : inFlight) {
        finish(exchange);
        finished.add(exchange);
      }
      Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(2))
          .until(() -> finished.size() == streams.size()
              || streams.stream().anyMatch(e -> routed(e) && !finished.contains(e)));
    }
    assertTrue(mostInFlight <= 4, "two pods of two: at most 4 routed at once, saw " + mostInFlight);
    for (Exchange exchange : streams) {
      assertEquals(1, exchange.received().stream().filter(ProcessingResponse::hasRequestHeaders).count(),
          "routed exactly once: " + exchange.received());
    }
    double dispatched = 0;
    for (String priority : List.of("-1", "0", "2")) {
      dispatched += metric("llm_d_epp_flow_control_requests_total",
          "outcome=\"Dispatched\",priority=\"" + priority + "\"");
    }
    assertEquals(120, dispatched);
    assertEquals(0, queued());
  }
}
