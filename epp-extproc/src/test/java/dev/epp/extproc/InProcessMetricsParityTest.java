package dev.epp.extproc;

import static dev.epp.extproc.ExtProcHarness.HERMETIC_CONFIG;
import static dev.epp.extproc.ExtProcHarness.llmRequest;
import static dev.epp.extproc.ExtProcHarness.responseBody;
import static dev.epp.extproc.ExtProcHarness.responseHeaders;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.metrics.export.EppMetrics;
import dev.epp.metrics.export.MetricsRegistry;
import dev.epp.scheduler.Director;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.scheduler.Routing;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingRequest;
import java.io.IOException;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * A gateway that routes in-process through the {@link Director} reports the same {@code inference_objective_*}
 * series as the ext_proc server for the same exchange.
 */
class InProcessMetricsParityTest {

  private static final String USAGE =
      "{\"id\":\"cmpl-1\",\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":7,\"total_tokens\":18}}";

  @Test
  void inProcessAndExtProcRecordTheSameRequestSeries() throws Exception {
    String viaExtProc;
    try (ExtProcHarness epp = new ExtProcHarness(HERMETIC_CONFIG)) {
      epp.pod(0, 0, 0.1);
      List<ProcessingRequest> exchange = new ArrayList<>(llmRequest("hello", "my-model", "my-model-v2"));
      exchange.add(responseHeaders(Map.of("content-type", "application/json")));
      exchange.add(responseBody(USAGE, true));
      epp.exchange(exchange);
      viaExtProc = requestSeries(epp.metrics);
    }

    EppMetrics metrics = EppMetrics.create(MetricsRegistry.create());
    try (ExtProcHarness pool = new ExtProcHarness(HERMETIC_CONFIG)) {
      pool.pod(0, 0, 0.1);
      Director director = Director.builder(
              EndpointPickerConfig.loader().metrics(metrics).parse(HERMETIC_CONFIG, "test.yaml"), pool.pool)
          .objectives(ExtProcHarness.OBJECTIVES)
          .build();
      Map<String, String> headers = Map.of(":path", "/v1/completions", "x-request-id", "test-request-id",
          Director.OBJECTIVE_HEADER, "my-model", Director.MODEL_REWRITE_HEADER, "my-model-v2");
      Routing routing = director.route(headers, ExtProcHarness.completion("my-model", "hello")
          .getBytes(StandardCharsets.UTF_8), null);
      director.responseHeaders(routing, Map.of("content-type", "application/json"));
      director.responseBody(routing, USAGE.getBytes(StandardCharsets.UTF_8), true);
      director.finish(routing);
    }
    String inProcess = requestSeries(metrics);

    for (String family : List.of("request_total", "request_sizes_count", "response_sizes_count", "input_tokens_sum",
        "output_tokens_sum", "running_requests", "request_duration_seconds_count")) {
      assertTrue(viaExtProc.contains("inference_objective_" + family + "{"), family + " missing from\n" + viaExtProc);
    }
    assertEquals(viaExtProc, inProcess);
  }

  /** The request series' samples, with durations' buckets and sums left out: only their counts must agree. */
  private static String requestSeries(EppMetrics metrics) throws IOException {
    StringWriter page = new StringWriter();
    metrics.registry().writeTo(page);
    return page.toString().lines()
        .filter(line -> line.startsWith("inference_objective_"))
        .filter(line -> !line.matches(".*_seconds_(bucket|sum)\\{.*"))
        .collect(Collectors.joining("\n"));
  }
}
