package dev.epp.extproc;

import static dev.epp.extproc.ExtProcHarness.HERMETIC_CONFIG;
import static dev.epp.extproc.ExtProcHarness.requestBody;
import static dev.epp.extproc.ExtProcHarness.requestHeaders;
import static dev.epp.extproc.ExtProcHarness.responseBody;
import static dev.epp.extproc.ExtProcHarness.responseHeaders;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.extproc.ExtProcHarness.Exchange;
import io.envoyproxy.envoy.service.ext_proc.v3.HttpTrailers;
import io.envoyproxy.envoy.service.ext_proc.v3.ImmediateResponse;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingRequest;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingResponse;
import io.envoyproxy.envoy.service.ext_proc.v3.StreamedBodyResponse;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Input a hostile or broken peer sends to the ext_proc service, over real gRPC on loopback: every case ends in a
 * clear answer and bounded memory. Connection-level abuse of the server's port is {@code EppServerHostileInputTest}.
 */
class ExtProcHostileInputTest {

  private static final Duration DEADLINE = Duration.ofSeconds(20);
  private static final Map<String, String> COMPLETIONS = Map.of(":path", "/v1/completions");
  private static final String PREFIX = "{\"model\":\"my-model\",\"prompt\":\"";
  private static final int BUDGET = 1_000_000;

  private ExtProcHarness epp;

  @AfterEach
  void stop() throws Exception {
    if (epp != null) {
      epp.close();
    }
  }

  // ---- buffered bodies --------------------------------------------------------------------------------------------

  /**
   * Three streams each buffer 400,000 of a 1,000,000-byte budget: whatever the interleaving, exactly one is refused
   * (a refused stream gives its bytes back). Each round ends the other two in different ways; then a body of the
   * whole budget must be accepted again, and the next round must again refuse exactly one (so nothing was given back
   * twice either).
   */
  @Test
  void bodiesBeyondTheSharedBudgetAreRefusedAndEveryEndingGivesTheBytesBack() throws Exception {
    epp = new ExtProcHarness(HERMETIC_CONFIG,
        service -> service.maxRequestBodyBytes(BUDGET).maxBufferedBodyBytes(BUDGET));
    epp.pod(0, 0, 0.1);

    List<Exchange> survivors = fillBudgetRefusingOne(epp.open(), epp.open(), epp.open());
    survivors.get(0).cancel(); // the client resets the stream
    survivors.get(1).send(requestHeaders(COMPLETIONS, false)); // a protocol error
    assertEquals(400, immediate(survivors.get(1).await()).getStatus().getCodeValue());
    awaitWholeBudgetAccepted();

    ManagedChannel connection = epp.connect();
    survivors = fillBudgetRefusingOne(epp.open(), epp.open(), ExtProcHarness.exchangeOn(connection));
    connection.shutdownNow(); // the connection goes away under a stream (which one is refused does not matter)
    for (Exchange survivor : survivors) {
      survivor.halfClose(); // the client ends the stream without end_of_stream
    }
    awaitWholeBudgetAccepted();

    survivors = fillBudgetRefusingOne(epp.open(), epp.open(), epp.open());
    for (Exchange survivor : survivors) { // both complete: routed, with their bytes given back
      survivor.send(requestBody("\"}", true));
      assertTrue(survivor.awaitResponses(2).get(0).hasRequestHeaders(), survivor.received().toString());
      survivor.halfClose();
    }
    awaitWholeBudgetAccepted();
  }

  @Test
  void aBufferedResponseBodyBeyondTheBudgetIsRefused() throws Exception {
    epp = new ExtProcHarness(HERMETIC_CONFIG, service -> service.maxRequestBodyBytes(1000).maxBufferedBodyBytes(1000));
    epp.pod(0, 0, 0.1);
    Exchange exchange = epp.open();
    exchange.send(requestHeaders(COMPLETIONS, false));
    exchange.send(requestBody(ExtProcHarness.completion("my-model", "hi"), true));
    exchange.awaitResponses(2);
    exchange.send(responseHeaders(Map.of(":status", "200", "content-type", "application/json")));
    exchange.send(responseBody("x".repeat(600), false));
    exchange.send(responseBody("x".repeat(600), false));
    List<ProcessingResponse> responses = exchange.await();
    ImmediateResponse refused = responses.get(responses.size() - 1).getImmediateResponse();
    assertEquals(429, refused.getStatus().getCodeValue(), responses.toString());
    assertEquals("inference error: ResourceExhausted - the EPP is buffering its limit of 1000 body bytes across all "
        + "requests; retry later", refused.getBody().toStringUtf8());
  }

  /** Opens three 400,000-byte bodies; returns the two that were not refused, still open. */
  private static List<Exchange> fillBudgetRefusingOne(Exchange... exchanges) throws InterruptedException {
    for (Exchange exchange : exchanges) {
      exchange.send(requestHeaders(COMPLETIONS, false));
      exchange.send(requestBody(PREFIX + "x".repeat(400_000 - PREFIX.length()), false));
    }
    await(() -> List.of(exchanges).stream().anyMatch(e -> !e.received().isEmpty()), "one stream is refused");
    List<Exchange> survivors = new ArrayList<>();
    for (Exchange exchange : exchanges) {
      if (exchange.received().isEmpty()) {
        survivors.add(exchange);
      } else {
        ImmediateResponse refused = immediate(exchange.await());
        assertEquals(429, refused.getStatus().getCodeValue());
        assertEquals("inference error: ResourceExhausted - the EPP is buffering its limit of " + BUDGET
            + " body bytes across all requests; retry later", refused.getBody().toStringUtf8());
      }
    }
    assertEquals(2, survivors.size(), "exactly one of three is refused");
    return survivors;
  }

  /** Waits until a body as large as the whole budget is routed (streams that ended give their bytes back). */
  private void awaitWholeBudgetAccepted() throws InterruptedException {
    String body = PREFIX + "x".repeat(BUDGET - PREFIX.length() - 2) + "\"}";
    await(() -> {
      Exchange probe = epp.open();
      probe.send(requestHeaders(COMPLETIONS, false));
      probe.send(requestBody(body, true));
      ProcessingResponse first = probe.awaitResponses(1).get(0);
      probe.halfClose();
      assertTrue(first.hasRequestHeaders() || first.getImmediateResponse().getStatus().getCodeValue() == 429,
          first.toString());
      return first.hasRequestHeaders();
    }, "a body of the whole budget is accepted");
  }

  // ---- message order ----------------------------------------------------------------------------------------------

  @Test
  void requestTrailersEndTheBodyAndResponseTrailersFlushABufferedBody() {
    epp = new ExtProcHarness(HERMETIC_CONFIG);
    epp.pod(0, 0, 0.1);
    Exchange exchange = epp.open();
    exchange.send(requestHeaders(COMPLETIONS, false));
    exchange.send(requestBody(ExtProcHarness.completion("my-model", "with trailers"), false));
    exchange.send(ProcessingRequest.newBuilder().setRequestTrailers(HttpTrailers.getDefaultInstance()).build());

    List<ProcessingResponse> request = exchange.awaitResponses(3);
    assertTrue(request.get(0).hasRequestHeaders(), request.toString());
    StreamedBodyResponse body = streamed(request.get(1).getRequestBody().getResponse());
    assertEquals(ExtProcHarness.completion("my-model", "with trailers"), body.getBody().toStringUtf8());
    assertFalse(body.getEndOfStream(), "trailers follow the body");
    assertTrue(request.get(2).hasRequestTrailers(), request.toString());

    String json = "{\"object\":\"text_completion\",\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}";
    exchange.send(responseHeaders(Map.of(":status", "200", "content-type", "application/json")));
    exchange.send(responseBody(json, false));
    exchange.send(ProcessingRequest.newBuilder().setResponseTrailers(HttpTrailers.getDefaultInstance()).build());
    exchange.halfClose();
    List<ProcessingResponse> all = exchange.await();
    assertEquals(6, all.size(), all.toString());
    assertTrue(all.get(3).hasResponseHeaders(), all.toString());
    StreamedBodyResponse responseBody = streamed(all.get(4).getResponseBody().getResponse());
    assertEquals(json, responseBody.getBody().toStringUtf8());
    assertFalse(responseBody.getEndOfStream());
    assertTrue(all.get(5).hasResponseTrailers(), all.toString());
    assertTrue(epp.scrape().contains("inference_objective_output_tokens_sum{model_name=\"my-model\","
        + "target_model_name=\"my-model\"} 2"), "usage counted");
  }

  @Test
  void aStreamCarriesOneRequestAndEveryStartedRequestIsCountedOnce() {
    epp = new ExtProcHarness(HERMETIC_CONFIG);
    epp.pod(0, 0, 0.1);
    String body = ExtProcHarness.completion("my-model", "once");
    List<List<ProcessingRequest>> orders = List.of(
        List.of(requestHeaders(COMPLETIONS, false), requestBody(body, true),
            requestHeaders(COMPLETIONS, false), requestBody(body, true)),
        List.of(requestHeaders(COMPLETIONS, false), requestBody(body, true), requestBody(body, true)),
        List.of(requestBody(body, true), requestBody(body, true)),
        List.of(requestHeaders(COMPLETIONS, true), requestBody(body, true)));
    for (List<ProcessingRequest> order : orders) {
      List<ProcessingResponse> responses = epp.exchange(order);
      ImmediateResponse refused = immediate(List.of(responses.get(responses.size() - 1)));
      assertEquals(400, refused.getStatus().getCodeValue(), responses.toString());
      assertTrue(refused.getBody().toStringUtf8().startsWith("inference error: BadRequest - request "),
          refused.getBody().toStringUtf8());
    }
    String metrics = epp.scrape();
    assertTrue(metrics.contains("inference_objective_running_requests{model_name=\"my-model\"} 0"), metrics);
    assertTrue(metrics.contains("inference_objective_request_total{model_name=\"my-model\",priority=\"0\","
        + "target_model_name=\"my-model\"} 3"), metrics);
  }

  // ---- helpers ----------------------------------------------------------------------------------------------------

  private static ImmediateResponse immediate(List<ProcessingResponse> responses) {
    assertEquals(1, responses.size(), responses.toString());
    assertTrue(responses.get(0).hasImmediateResponse(), responses.toString());
    return responses.get(0).getImmediateResponse();
  }

  private static StreamedBodyResponse streamed(io.envoyproxy.envoy.service.ext_proc.v3.CommonResponse response) {
    return response.getBodyMutation().getStreamedResponse();
  }

  /** Re-evaluates {@code condition} until it holds, failing after {@link #DEADLINE}. */
  private static void await(BooleanSupplier condition, String what) {
    Awaitility.await(what).atMost(DEADLINE).pollInterval(Duration.ofMillis(20)).until(condition::getAsBoolean);
  }
}
