package dev.epp.extproc;

import static dev.epp.extproc.ExtProcHarness.HEADER;
import static dev.epp.extproc.ExtProcHarness.HERMETIC_CONFIG;
import static dev.epp.extproc.ExtProcHarness.llmRequest;
import static dev.epp.extproc.ExtProcHarness.requestBody;
import static dev.epp.extproc.ExtProcHarness.requestHeaders;
import static dev.epp.extproc.ExtProcHarness.responseBody;
import static dev.epp.extproc.ExtProcHarness.responseHeaders;
import static dev.epp.extproc.ExtProcHarness.withSubset;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.epp.api.Plugin;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.TypedName;
import dev.epp.api.requestcontrol.ParsedRequest;
import dev.epp.api.requestcontrol.RequestParser;
import dev.epp.api.requestcontrol.Usage;
import dev.epp.extproc.ExtProcHarness.Exchange;
import dev.epp.scheduler.PluginRegistry;
import dev.epp.scheduler.plugins.parser.OpenAiParser;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.service.ext_proc.v3.CommonResponse;
import io.envoyproxy.envoy.service.ext_proc.v3.ImmediateResponse;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingRequest;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingResponse;
import io.envoyproxy.envoy.service.ext_proc.v3.StreamedBodyResponse;
import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The Go EPP's hermetic ext_proc scenarios (reference section 8.1), driven over real gRPC with a generated client
 * acting as Envoy, asserting the exact response messages (headers order-insensitive) and the metrics they produce.
 */
class ExtProcServiceTest {

  private ExtProcHarness epp;

  @AfterEach
  void stop() throws InterruptedException {
    if (epp != null) {
      epp.close();
    }
  }

  private static Map<String, String> setHeaders(CommonResponse response) {
    Map<String, String> headers = new LinkedHashMap<>();
    for (HeaderValueOption option : response.getHeaderMutation().getSetHeadersList()) {
      assertEquals(HeaderValueOption.HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD, option.getAppendAction());
      headers.put(option.getHeader().getKey(), option.getHeader().getRawValue().toStringUtf8());
    }
    return headers;
  }

  private static String destinationMetadata(ProcessingResponse response) {
    return response.getDynamicMetadata().getFieldsOrThrow("envoy.lb").getStructValue()
        .getFieldsOrThrow("x-gateway-destination-endpoint").getStringValue();
  }

  /** Asserts the Go EPP's success shape: one headers response routed to {@code target}, then body chunks. */
  private static void assertRoutedTo(List<ProcessingResponse> responses, String target, String expectedBody)
      throws Exception {
    assertEquals(2, responses.size(), responses.toString());
    ProcessingResponse headers = responses.get(0);
    assertTrue(headers.hasRequestHeaders(), headers.toString());
    CommonResponse common = headers.getRequestHeaders().getResponse();
    assertTrue(common.getClearRouteCache());
    Map<String, String> set = setHeaders(common);
    assertEquals(target, set.get("x-gateway-destination-endpoint"));
    assertEquals(target, destinationMetadata(headers));
    assertEquals("mom", set.get("hi"));
    assertEquals("test-request-id", set.get("x-request-id"));
    assertFalse(set.containsKey("x-gateway-inference-objective"), set.toString());
    assertTrue(common.getHeaderMutation().getRemoveHeadersList().contains("x-gateway-inference-objective"));
    StreamedBodyResponse body = responses.get(1).getRequestBody().getResponse().getBodyMutation().getStreamedResponse();
    assertTrue(body.getEndOfStream());
    ObjectMapper json = new ObjectMapper();
    assertEquals(json.readTree(expectedBody), json.readTree(body.getBody().toStringUtf8()));
    assertEquals(Integer.toString(body.getBody().size()), set.get("Content-Length"));
  }

  private static ImmediateResponse immediate(List<ProcessingResponse> responses) {
    assertEquals(1, responses.size(), responses.toString());
    assertTrue(responses.get(0).hasImmediateResponse(), responses.toString());
    return responses.get(0).getImmediateResponse();
  }

  @Test
  void selectsLowerQueueAndKvCacheAndCountsTheRequest() throws Exception {
    epp = new ExtProcHarness(HERMETIC_CONFIG);
    epp.pod(0, 3, 0.2);
    epp.pod(1, 0, 0.1);
    epp.pod(2, 10, 0.2);
    assertRoutedTo(epp.exchange(llmRequest("test1", "my-model", "my-model-12345")), "192.168.1.2:8000",
        ExtProcHarness.completion("my-model-12345", "test1"));
    String metrics = epp.scrape();
    assertTrue(metrics.contains("inference_objective_request_total{model_name=\"my-model\",priority=\"2\","
        + "target_model_name=\"my-model-12345\"} 1\n"), metrics);
    assertTrue(metrics.contains("inference_extension_scheduler_attempts_total{namespace=\"\","
        + "pod_name=\"pod-1-rank-0\",port=\"8000\",status=\"success\",target_model_name=\"my-model-12345\"} 1"),
        metrics);
  }

  @Test
  void aModelRewriteRuleRewritesTheBodyAndIsCounted() throws Exception {
    epp = new ExtProcHarness(HERMETIC_CONFIG);
    epp.pod(0, 0, 0.1, "foo", "rewritten-model");
    assertRoutedTo(epp.exchange(llmRequest("test-rewrite", "model-to-be-rewritten", null)), "192.168.1.1:8000",
        ExtProcHarness.completion("rewritten-model", "test-rewrite"));
    String metrics = epp.scrape();
    assertTrue(metrics.contains("inference_objective_request_total{model_name=\"model-to-be-rewritten\","
        + "priority=\"0\",target_model_name=\"rewritten-model\"} 1\n"), metrics);
    assertTrue(metrics.contains("# HELP inference_extension_model_rewrite_decisions_total [ALPHA] Total number of "
        + "inference model rewrite decisions.\n# TYPE inference_extension_model_rewrite_decisions_total counter\n"
        + "inference_extension_model_rewrite_decisions_total{model_name=\"model-to-be-rewritten\","
        + "model_rewrite_name=\"rewrite-test\",target_model=\"rewritten-model\"} 1\n"), metrics);
  }

  @Test
  void selectsActiveLoraWithLowQueue() throws Exception {
    epp = new ExtProcHarness(HERMETIC_CONFIG);
    epp.pod(0, 0, 0.2, "foo", "bar");
    epp.pod(1, 0, 0.1, "foo", "sql-lora-1fdg2");
    epp.pod(2, 10, 0.2, "foo", "bar");
    assertRoutedTo(epp.exchange(llmRequest("test2", "sql-lora", "sql-lora-1fdg2")), "192.168.1.2:8000",
        ExtProcHarness.completion("sql-lora-1fdg2", "test2"));
  }

  @Test
  void selectsLoraDespiteHigherKvCache() throws Exception {
    epp = new ExtProcHarness(HERMETIC_CONFIG);
    epp.pod(0, 10, 0.2, "foo", "bar");
    epp.pod(1, 10, 0.4, "foo", "sql-lora-1fdg2");
    epp.pod(2, 10, 0.3, "foo");
    assertRoutedTo(epp.exchange(llmRequest("test3", "sql-lora", "sql-lora-1fdg2")), "192.168.1.2:8000",
        ExtProcHarness.completion("sql-lora-1fdg2", "test3"));
  }

  @Test
  void doesNotShedRequestsByDefault() throws Exception {
    epp = new ExtProcHarness(HERMETIC_CONFIG);
    epp.pod(0, 6, 0.2, "foo", "bar", "sql-lora-1fdg2");
    epp.pod(1, 0, 0.85, "foo");
    epp.pod(2, 10, 0.9, "foo");
    assertRoutedTo(epp.exchange(llmRequest("test4", "sql-lora", "sql-lora-1fdg2")), "192.168.1.1:8000",
        ExtProcHarness.completion("sql-lora-1fdg2", "test4"));
  }

  @Test
  void shedsSheddableRequestsWhenSaturated() {
    epp = new ExtProcHarness(HERMETIC_CONFIG);
    epp.pod(0, 6, 0.9);
    epp.pod(1, 10, 0.85);
    ImmediateResponse shed = immediate(epp.exchange(llmRequest("test5", "batch-sheddable", null)));
    assertEquals(429, shed.getStatus().getCodeValue());
    assertEquals("inference error: ResourceExhausted - system saturated, sheddable request dropped",
        shed.getBody().toStringUtf8());
    assertTrue(epp.scrape().contains("inference_objective_request_error_total{error_code=\"ResourceExhausted\","));
  }

  @Test
  void reassemblesABodySplitAcrossChunks() throws Exception {
    epp = new ExtProcHarness(HERMETIC_CONFIG);
    epp.pod(0, 4, 0.2, "foo", "bar", "sql-lora-1fdg3");
    epp.pod(1, 4, 0.85, "foo", "sql-lora-1fdg3");
    epp.pod(2, 10, 0.9, "foo", "sql-lora-1fdg3");
    String body = ExtProcHarness.completion("sql-lora-sheddable", "test6");
    List<ProcessingResponse> responses = epp.exchange(List.of(
        requestHeaders(Map.of("hi", "mom", "x-request-id", "test-request-id",
            "x-gateway-inference-objective", "sql-lora-sheddable",
            "x-gateway-model-name-rewrite", "sql-lora-1fdg3"), false),
        requestBody(body.substring(0, 20), false),
        requestBody(body.substring(20), true)));
    assertRoutedTo(responses, "192.168.1.1:8000", ExtProcHarness.completion("sql-lora-1fdg3", "test6"));
    assertTrue(epp.scrape().contains("inference_objective_request_total{model_name=\"sql-lora-sheddable\","
        + "priority=\"0\",target_model_name=\"sql-lora-1fdg3\"} 1"), epp.scrape());
  }

  @Test
  void llmdControlHeadersRouteAndAreRemovedUpstreamBesideTheGatewayNames() throws Exception {
    epp = new ExtProcHarness(HERMETIC_CONFIG);
    epp.pod(0, 4, 0.2, "foo", "bar", "sql-lora-1fdg3");
    List<ProcessingResponse> responses = epp.exchange(List.of(
        requestHeaders(Map.of("hi", "mom", "x-request-id", "test-request-id",
            "x-llm-d-inference-objective", "my-model",
            "x-gateway-inference-objective", "batch-sheddable",
            "x-llm-d-model-name-rewrite", "sql-lora-1fdg3",
            "x-gateway-model-name-rewrite", "ignored-model",
            "x-llm-d-inference-fairness-id", "tenant-a"), false),
        requestBody(ExtProcHarness.completion("sql-lora-sheddable", "test8"), true)));
    assertRoutedTo(responses, "192.168.1.1:8000", ExtProcHarness.completion("sql-lora-1fdg3", "test8"));
    List<String> removed = responses.get(0).getRequestHeaders().getResponse().getHeaderMutation()
        .getRemoveHeadersList();
    assertTrue(removed.containsAll(List.of("x-llm-d-inference-objective", "x-gateway-inference-objective",
        "x-llm-d-model-name-rewrite", "x-gateway-model-name-rewrite", "x-llm-d-inference-fairness-id")),
        removed.toString());
    assertTrue(epp.scrape().contains("inference_objective_request_total{model_name=\"sql-lora-sheddable\","
        + "priority=\"2\",target_model_name=\"sql-lora-1fdg3\"} 1"), epp.scrape());
  }

  @Test
  void passthroughParserRoutesOpaqueBodiesUnchanged() throws Exception {
    epp = new ExtProcHarness(HEADER + """
        plugins:
        - type: queue-scorer
        - type: passthrough-parser
        parser:
          pluginRef: passthrough-parser
        """);
    epp.pod(0, 0, 0.1);
    String raw = "{\"max_tokens\":100,\"prompt\":\"test7\",\"temperature\":0}";
    List<ProcessingResponse> responses = epp.exchange(List.of(
        requestHeaders(Map.of("hi", "mom", "x-request-id", "test-request-id",
            "x-gateway-inference-objective", "direct-model"), false),
        requestBody(raw, true)));
    assertRoutedTo(responses, "192.168.1.1:8000", raw);
    assertTrue(epp.scrape().contains(
        "inference_objective_request_total{model_name=\"\",priority=\"2\",target_model_name=\"\"} 1"));
  }

  @Test
  void invalidJsonAndMissingModelAreBadRequests() {
    epp = new ExtProcHarness(HERMETIC_CONFIG);
    epp.pod(0, 0, 0.1);
    ImmediateResponse invalid = immediate(epp.exchange(List.of(
        requestHeaders(Map.of("content-type", "application/json"), false),
        requestBody("no healthy upstream", true))));
    assertEquals(400, invalid.getStatus().getCodeValue());
    assertTrue(invalid.getBody().toStringUtf8().startsWith("inference error: BadRequest - error unmarshaling"),
        invalid.getBody().toStringUtf8());
    ImmediateResponse noModel = immediate(epp.exchange(List.of(
        requestHeaders(Map.of("content-type", "application/json"), false),
        requestBody("{\"prompt\":\"hello world\"}", true))));
    assertEquals(400, noModel.getStatus().getCodeValue());
    assertEquals("inference error: BadRequest - model not found in request body", noModel.getBody().toStringUtf8());
    assertTrue(epp.scrape().contains(
        "inference_objective_request_error_total{error_code=\"BadRequest\",model_name=\"\",target_model_name=\"\"} 2"),
        epp.scrape());
  }

  @Test
  void headerOnlyRequests() {
    epp = new ExtProcHarness(HERMETIC_CONFIG);
    ImmediateResponse none = immediate(epp.exchange(List.of(requestHeaders(Map.of("content-type", "application/json"),
        true))));
    assertEquals(500, none.getStatus().getCodeValue());
    assertEquals("inference error: Internal - no pods available in datastore", none.getBody().toStringUtf8());

    epp.pod(0, 0, 0.1);
    List<ProcessingResponse> responses =
        epp.exchange(List.of(requestHeaders(Map.of(":method", "GET", ":path", "/v1/models"), true)));
    assertEquals(1, responses.size());
    Map<String, String> set = setHeaders(responses.get(0).getRequestHeaders().getResponse());
    assertEquals("192.168.1.1:8000", set.get("x-gateway-destination-endpoint"));
    assertEquals(36, set.get("x-request-id").length(), "a generated UUID");
    assertEquals("192.168.1.1:8000", destinationMetadata(responses.get(0)));
  }

  @Test
  void subsetHintSelectsBestPartialOrNone() throws Exception {
    epp = new ExtProcHarness(HERMETIC_CONFIG);
    epp.pod(0, 0, 0.2, "foo", "bar");
    epp.pod(1, 0, 0.1, "foo", "sql-lora-1fdg2");
    epp.pod(2, 10, 0.2, "foo");
    List<ProcessingRequest> request = llmRequest("test2", "sql-lora", "sql-lora-1fdg2");
    String rewritten = ExtProcHarness.completion("sql-lora-1fdg2", "test2");
    assertRoutedTo(epp.exchange(List.of(
        withSubset(request.get(0), "192.168.1.1:8000", "192.168.1.2:8000", "192.168.1.3:8000"), request.get(1))),
        "192.168.1.2:8000", rewritten);
    assertRoutedTo(epp.exchange(List.of(withSubset(request.get(0), "192.168.1.3:8000"), request.get(1))),
        "192.168.1.3:8000", rewritten);
    ImmediateResponse none = immediate(
        epp.exchange(List.of(withSubset(request.get(0), "192.168.1.99:8000"), request.get(1))));
    assertEquals(503, none.getStatus().getCodeValue());
    assertEquals("inference error: ServiceUnavailable - failed to find endpoint candidates for serving the request",
        none.getBody().toStringUtf8());
  }

  @Test
  void spoofedDestinationHeadersNeverReachUpstream() throws Exception {
    epp = new ExtProcHarness(HERMETIC_CONFIG);
    epp.pod(0, 0, 0.1);
    Map<String, String> headers = new LinkedHashMap<>(Map.of("x-request-id", "test-request-id", "hi", "mom",
        "x-gateway-destination-endpoint", "6.6.6.6:80", "x-gateway-destination-endpoint-served", "6.6.6.6:80"));
    List<ProcessingResponse> responses = epp.exchange(List.of(requestHeaders(headers, false),
        requestBody(ExtProcHarness.completion("m", "p"), true)));
    CommonResponse common = responses.get(0).getRequestHeaders().getResponse();
    assertEquals("192.168.1.1:8000", setHeaders(common).get("x-gateway-destination-endpoint"));
    assertFalse(setHeaders(common).containsKey("x-gateway-destination-endpoint-served"));
    assertTrue(common.getHeaderMutation().getRemoveHeadersList()
        .containsAll(List.of("x-gateway-destination-endpoint", "x-gateway-destination-endpoint-served")));
  }

  @Test
  void bufferedResponsesAreReassembledAndUsageCounted() {
    epp = new ExtProcHarness(HERMETIC_CONFIG);
    epp.pod(0, 0, 0.1);
    List<ProcessingRequest> requests = new ArrayList<>(llmRequest("test8", "my-model", null));
    requests.add(responseHeaders(Map.of("content-type", "application/json", ":status", "200")));
    requests.add(responseBody("{\"object\":\"text_completion\",\"usage\":{\"prompt_tokens\":7,", false));
    requests.add(responseBody("\"completion_tokens\":10,\"total_tokens\":17}}", true));
    List<ProcessingResponse> responses = epp.exchange(requests);
    assertEquals(4, responses.size(), responses.toString());
    Map<String, String> set = setHeaders(responses.get(2).getResponseHeaders().getResponse());
    assertEquals("true", set.get("x-went-into-resp-headers"));
    assertEquals("application/json", set.get("content-type"));
    StreamedBodyResponse body = responses.get(3).getResponseBody().getResponse().getBodyMutation()
        .getStreamedResponse();
    assertTrue(body.getEndOfStream());
    assertEquals("{\"object\":\"text_completion\",\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":10,"
        + "\"total_tokens\":17}}", body.getBody().toStringUtf8());
    String metrics = epp.scrape();
    assertTrue(metrics.contains("inference_objective_input_tokens_sum{model_name=\"my-model\","
        + "target_model_name=\"my-model\"} 7"), metrics);
    assertTrue(metrics.contains("inference_objective_output_tokens_sum{model_name=\"my-model\","
        + "target_model_name=\"my-model\"} 10"), metrics);
    assertTrue(metrics.contains("inference_objective_running_requests{model_name=\"my-model\"} 0"), metrics);
  }

  @Test
  void rewrittenModelNameIsPutBackInTheResponse() {
    epp = new ExtProcHarness(HERMETIC_CONFIG);
    epp.pod(0, 0, 0.1);
    List<ProcessingRequest> requests = new ArrayList<>(llmRequest("test11", "my-model", "my-model-12345"));
    requests.add(responseHeaders(Map.of("content-type", "application/json", "content-length", "40")));
    requests.add(responseBody("{\"model\":\"my-model-12345\",\"choices\":[]}", true));
    List<ProcessingResponse> responses = epp.exchange(requests);
    assertEquals(4, responses.size(), responses.toString());
    assertEquals(List.of("content-length"),
        responses.get(2).getResponseHeaders().getResponse().getHeaderMutation().getRemoveHeadersList());
    assertEquals("{\"model\":\"my-model\",\"choices\":[]}", responses.get(3).getResponseBody().getResponse()
        .getBodyMutation().getStreamedResponse().getBody().toStringUtf8());
  }

  @Test
  void invalidJsonResponsesPassThroughAndEmptyEndChunksAreAnswered() {
    epp = new ExtProcHarness(HERMETIC_CONFIG);
    epp.pod(0, 0, 0.1);
    List<ProcessingRequest> requests = new ArrayList<>(llmRequest("test9", "my-model", null));
    requests.add(responseHeaders(Map.of("content-type", "application/json")));
    requests.add(responseBody("no healthy ", false));
    requests.add(responseBody("upstream", false));
    requests.add(responseBody("", true));
    List<ProcessingResponse> responses = epp.exchange(requests);
    assertEquals(4, responses.size(), responses.toString());
    StreamedBodyResponse body = responses.get(3).getResponseBody().getResponse().getBodyMutation()
        .getStreamedResponse();
    assertEquals("no healthy upstream", body.getBody().toStringUtf8());
    assertTrue(body.getEndOfStream());
  }

  @Test
  void eventStreamsAreEchoedChunkByChunkAndTokensCountedOnce() {
    epp = new ExtProcHarness(HERMETIC_CONFIG);
    epp.pod(0, 0, 0.1);
    List<ProcessingRequest> requests = new ArrayList<>(llmRequest("test10", "my-model", null));
    requests.add(responseHeaders(Map.of("content-type", "text/event-stream")));
    String first = "data: {\"choices\":[{\"text\":\"Hi\"}]}\n\n";
    String second = "data: {\"object\":\"text_completion\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,"
        + "\"completion_tokens\":1,\"total_tokens\":8}}\n\ndata: [DONE]\n\n";
    requests.add(responseBody(first, false));
    requests.add(responseBody(second, false));
    requests.add(responseBody("", true));
    List<ProcessingResponse> responses = epp.exchange(requests);
    assertEquals(6, responses.size(), responses.toString());
    List<String> chunks = new ArrayList<>();
    List<Boolean> ends = new ArrayList<>();
    for (ProcessingResponse r : responses.subList(3, 6)) {
      StreamedBodyResponse chunk = r.getResponseBody().getResponse().getBodyMutation().getStreamedResponse();
      chunks.add(chunk.getBody().toStringUtf8());
      ends.add(chunk.getEndOfStream());
    }
    assertEquals(List.of(first, second, ""), chunks);
    assertEquals(List.of(false, false, true), ends);
    String metrics = epp.scrape();
    assertTrue(metrics.contains("inference_objective_input_tokens_sum{model_name=\"my-model\","
        + "target_model_name=\"my-model\"} 7"), metrics);
    assertTrue(metrics.contains("inference_objective_input_tokens_count{model_name=\"my-model\","
        + "target_model_name=\"my-model\"} 1"), metrics);
  }

  @Test
  void oversizedBodyIsRejectedWhileOtherStreamsContinue() throws Exception {
    epp = new ExtProcHarness(HERMETIC_CONFIG, 1024);
    epp.pod(0, 0, 0.1);
    Exchange big = epp.open();
    big.send(requestHeaders(Map.of(":path", "/v1/completions"), false));
    big.send(requestBody("x".repeat(800), false));
    big.send(requestBody("x".repeat(800), false));
    ImmediateResponse rejected = immediate(big.awaitResponses(1));
    assertEquals(413, rejected.getStatus().getCodeValue());
    assertTrue(rejected.getBody().toStringUtf8().startsWith("inference error: PayloadTooLarge - "));
    assertRoutedTo(epp.exchange(llmRequest("ok", "my-model", null)), "192.168.1.1:8000",
        ExtProcHarness.completion("my-model", "ok"));
  }

  @Test
  void idleStreamsAreCancelledAndFreed() throws Exception {
    epp = new ExtProcHarness(HERMETIC_CONFIG, ExtProcService.DEFAULT_MAX_REQUEST_BODY_BYTES,
        java.time.Duration.ofMillis(200));
    epp.pod(0, 0, 0.1);
    Exchange idle = epp.open();
    idle.send(requestHeaders(Map.of(":path", "/v1/completions"), false));
    idle.send(requestBody("{\"model\":", false));
    AssertionError error = org.junit.jupiter.api.Assertions.assertThrows(AssertionError.class, idle::await);
    assertEquals(io.grpc.Status.Code.DEADLINE_EXCEEDED, io.grpc.Status.fromThrowable(error.getCause()).getCode(),
        error.toString());
    assertRoutedTo(epp.exchange(llmRequest("busy", "my-model", null)), "192.168.1.1:8000",
        ExtProcHarness.completion("my-model", "busy"));
  }

  @Test
  void idleStreamsAreSweptOnTheSuppliedSchedulerWhichCloseDoesNotShutDown() throws Exception {
    List<String> ranOn = new java.util.concurrent.CopyOnWriteArrayList<>();
    ScheduledThreadPoolExecutor scheduler = new ScheduledThreadPoolExecutor(1, r -> new Thread(r, "embedder")) {
      @Override
      protected void beforeExecute(Thread t, Runnable r) {
        ranOn.add(t.getName());
      }
    };
    scheduler.setRemoveOnCancelPolicy(true);
    try {
      epp = new ExtProcHarness(HERMETIC_CONFIG,
          service -> service.streamIdleTimeout(java.time.Duration.ofMillis(200)).scheduler(scheduler));
      epp.pod(0, 0, 0.1);
      Exchange idle = epp.open();
      idle.send(requestHeaders(Map.of(":path", "/v1/completions"), false));
      AssertionError error = org.junit.jupiter.api.Assertions.assertThrows(AssertionError.class, idle::await);
      assertEquals(io.grpc.Status.Code.DEADLINE_EXCEEDED, io.grpc.Status.fromThrowable(error.getCause()).getCode(),
          error.toString());
      assertFalse(ranOn.isEmpty());
      assertTrue(ranOn.stream().allMatch("embedder"::equals), ranOn.toString());
      epp.close();
      epp = null;
      assertFalse(scheduler.isShutdown());
      assertTrue(scheduler.getQueue().stream().allMatch(task -> ((java.util.concurrent.Future<?>) task).isCancelled()),
          "the sweep is cancelled");
    } finally {
      scheduler.shutdownNow();
    }
  }

  @Test
  void clientCancellingMidBodyLeavesTheServerHealthy() throws Exception {
    epp = new ExtProcHarness(HERMETIC_CONFIG);
    epp.pod(0, 0, 0.1);
    Exchange cancelled = epp.open();
    cancelled.send(requestHeaders(Map.of(":path", "/v1/completions"), false));
    cancelled.send(requestBody("{\"model\":", false));
    cancelled.cancel();
    assertRoutedTo(epp.exchange(llmRequest("after", "my-model", null)), "192.168.1.1:8000",
        ExtProcHarness.completion("my-model", "after"));
  }

  @Test
  void manyConcurrentStreamsAreAllAnsweredCorrectly() throws Exception {
    epp = new ExtProcHarness(HERMETIC_CONFIG);
    epp.pod(0, 5, 0.5);
    epp.pod(1, 0, 0.1);
    ExecutorService clients = Executors.newFixedThreadPool(16);
    try {
      List<Future<List<ProcessingResponse>>> results = new ArrayList<>();
      for (int i = 0; i < 200; i++) {
        String prompt = "p" + i;
        results.add(clients.submit(() -> epp.exchange(llmRequest(prompt, "my-model", "my-model-" + prompt))));
      }
      for (int i = 0; i < 200; i++) {
        assertRoutedTo(results.get(i).get(), "192.168.1.2:8000",
            ExtProcHarness.completion("my-model-p" + i, "p" + i));
      }
    } finally {
      clients.shutdownNow();
    }
    assertTrue(epp.scrape().contains("inference_extension_scheduler_e2e_duration_seconds_count 200"));
  }

  @Test
  void aBodyAtTheLimitIsForwardedIntactAndARoutedRequestInFlightHoldsNeitherItsBodyNorItsPrompt() {
    List<WeakReference<Object>> parsed = new CopyOnWriteArrayList<>();
    PluginRegistry registry = PluginRegistry.defaultRegistry();
    registry.register(new CapturingParser.Factory(parsed));
    epp = new ExtProcHarness(HEADER + """
        plugins:
        - type: capturing-parser
        - type: queue-scorer
        schedulingProfiles:
        - name: default
          plugins:
          - pluginRef: queue-scorer
        parser:
          pluginRef: capturing-parser
        """, registry);
    epp.pod(0, 0, 0.1);
    String prefix = "{\"model\":\"my-model\",\"prompt\":\"";
    int size = ExtProcService.DEFAULT_MAX_REQUEST_BODY_BYTES;
    String body = prefix + "x".repeat(size - prefix.length() - 2) + "\"}";
    Exchange exchange = epp.open();
    exchange.send(requestHeaders(Map.of(":path", "/v1/completions"), false));
    for (int offset = 0; offset < size; offset += 62_000) {
      int end = Math.min(size, offset + 62_000);
      exchange.send(requestBody(body.substring(offset, end), end == size));
    }
    int chunks = (size + EnvoyMessages.MAX_CHUNK - 1) / EnvoyMessages.MAX_CHUNK;
    StringBuilder forwarded = new StringBuilder(size);
    for (ProcessingResponse response : exchange.awaitResponses(1 + chunks).subList(1, 1 + chunks)) {
      forwarded.append(response.getRequestBody().getResponse().getBodyMutation().getStreamedResponse().getBody()
          .toStringUtf8());
    }
    assertEquals(body, forwarded.toString());
    assertEquals(2, parsed.size(), "the body and its prompt");
    await().atMost(Duration.ofSeconds(30)).until(() -> {
      System.gc();
      return parsed.stream().allMatch(reference -> reference.get() == null);
    });
    exchange.send(responseHeaders(Map.of(":status", "200")));
    exchange.send(responseBody("{}", true));
    exchange.halfClose();
    assertEquals(1 + chunks + 2, exchange.await().size());
  }

  /** {@code openai-parser}, keeping weak references to each body it parses and its prompt. */
  private static final class CapturingParser implements RequestParser {
    private final OpenAiParser parser = new OpenAiParser("capturing-parser");
    private final List<WeakReference<Object>> parsed;

    CapturingParser(List<WeakReference<Object>> parsed) {
      this.parsed = parsed;
    }

    @Override
    public TypedName typedName() {
      return new TypedName("capturing-parser", "capturing-parser");
    }

    @Override
    public ParsedRequest parseRequest(byte[] body, Map<String, String> headers) {
      ParsedRequest request = parser.parseRequest(body, headers);
      parsed.add(new WeakReference<>(body));
      parsed.add(new WeakReference<>(request.body().prompt()));
      return request;
    }

    @Override
    public byte[] withModel(byte[] body, String model) {
      return parser.withModel(body, model);
    }

    @Override
    public Usage parseResponse(byte[] chunk, boolean eventStream) {
      return parser.parseResponse(chunk, eventStream);
    }

    record Factory(List<WeakReference<Object>> parsed) implements PluginFactory {
      @Override
      public String type() {
        return "capturing-parser";
      }

      @Override
      public Plugin create(PluginSpec spec, PluginHandle handle) {
        return new CapturingParser(parsed);
      }
    }
  }
}
