package dev.epp.extproc;

import static dev.epp.extproc.ExtProcHarness.requestBody;
import static dev.epp.extproc.ExtProcHarness.requestHeaders;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.Endpoint;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.service.ext_proc.v3.CommonResponse;
import io.envoyproxy.envoy.service.ext_proc.v3.ImmediateResponse;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingResponse;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Prefill/decode disaggregation over a real ext_proc stream: the EPP's {@code x-prefiller-host-port} reaches the
 * decode pod's sidecar, a client's never does, conditional decode answers 412, and decisions and scheduling attempts
 * are exported.
 */
class ExtProcDisaggTest {

  private static final String CONFIG = """
      apiVersion: llm-d.ai/v1alpha1
      kind: EndpointPickerConfig
      plugins:
      - type: approx-prefix-cache-producer
        parameters:
          autoTune: false
          blockSizeTokens: 16
      - type: prefill-filter
      - type: decode-filter
      - type: prefix-cache-scorer
      - type: prefix-based-pd-decider
        parameters:
          nonCachedTokens: 100
      - type: disagg-profile-handler
        parameters:
          deciders:
            prefill: prefix-based-pd-decider
      schedulingProfiles:
      - name: decode
        plugins:
        - pluginRef: decode-filter
        - pluginRef: prefix-cache-scorer
      - name: prefill
        plugins:
        - pluginRef: prefill-filter
      """;

  private ExtProcHarness epp;

  @BeforeEach
  void start() {
    epp = new ExtProcHarness(CONFIG);
    epp.pool.upsert(new Endpoint("decode-0", "10.0.0.1", 8000, Map.of("llm-d.ai/role", "decode")));
    epp.pool.upsert(new Endpoint("prefill-0", "10.0.0.2", 8001, Map.of("llm-d.ai/role", "prefill")));
  }

  @AfterEach
  void stop() throws InterruptedException {
    epp.close();
  }

  private List<ProcessingResponse> send(int promptChars, Map<String, String> headers) {
    return epp.exchange(List.of(requestHeaders(headers, false),
        requestBody(ExtProcHarness.completion("m", "a".repeat(promptChars)), true)));
  }

  private static CommonResponse headersResponse(List<ProcessingResponse> responses) {
    assertTrue(responses.get(0).hasRequestHeaders(), responses.toString());
    return responses.get(0).getRequestHeaders().getResponse();
  }

  private static Map<String, String> setHeaders(CommonResponse response) {
    Map<String, String> headers = new LinkedHashMap<>();
    for (HeaderValueOption option : response.getHeaderMutation().getSetHeadersList()) {
      headers.put(option.getHeader().getKey(), option.getHeader().getRawValue().toStringUtf8());
    }
    return headers;
  }

  @Test
  void theEppsPrefillerHeaderReplacesTheClientsOnTheUpstreamRequest() {
    CommonResponse response = headersResponse(send(400, Map.of("x-prefiller-host-port", "6.6.6.6:80")));
    Map<String, String> set = setHeaders(response);
    assertEquals("10.0.0.1:8000", set.get("x-gateway-destination-endpoint"));
    assertEquals("10.0.0.2:8001", set.get("x-prefiller-host-port"));
    // Envoy removes the client's copy, then sets the EPP's
    assertTrue(response.getHeaderMutation().getRemoveHeadersList().contains("x-prefiller-host-port"));
  }

  @Test
  void aClientsPrefillerHeaderIsRemovedWhenTheRequestIsNotDisaggregated() {
    CommonResponse response = headersResponse(send(40, Map.of("x-prefiller-host-port", "6.6.6.6:80",
        "x-encoder-hosts-ports", "6.6.6.6:81")));
    assertFalse(setHeaders(response).containsKey("x-prefiller-host-port"));
    assertFalse(setHeaders(response).containsKey("x-encoder-hosts-ports"));
    assertTrue(response.getHeaderMutation().getRemoveHeadersList()
        .containsAll(List.of("x-prefiller-host-port", "x-encoder-hosts-ports")));
  }

  @Test
  void conditionalDecodeWithoutACachedPrefixIsAnsweredWith412() {
    List<ProcessingResponse> responses = send(400, Map.of("prefer", "if-available"));
    assertEquals(1, responses.size(), responses.toString());
    ImmediateResponse immediate = responses.get(0).getImmediateResponse();
    assertEquals(412, immediate.getStatus().getCodeValue());
    assertEquals("inference error: PreconditionFailed - no decode worker has the requested KV cache",
        immediate.getBody().toStringUtf8());
    send(400, Map.of());
    assertEquals("10.0.0.1:8000",
        setHeaders(headersResponse(send(400, Map.of("prefer", "if-available")))).get("x-gateway-destination-endpoint"));
  }

  @Test
  void decisionsAreExportedUnderTheCurrentAndTheDeprecatedName() {
    send(400, Map.of());
    send(40, Map.of());
    String metrics = epp.scrape();
    assertTrue(metrics.contains("llm_d_epp_disagg_decision_total{plugin_name=\"disagg-profile-handler\","
        + "plugin_type=\"disagg-profile-handler\",model_name=\"m\",decision_type=\"prefill-decode\"} 1"), metrics);
    assertTrue(metrics.contains("llm_d_epp_disagg_decision_total{plugin_name=\"disagg-profile-handler\","
        + "plugin_type=\"disagg-profile-handler\",model_name=\"m\",decision_type=\"decode-only\"} 1"), metrics);
    assertTrue(metrics.contains(
        "llm_d_inference_scheduler_disagg_decision_total{model_name=\"m\",decision_type=\"prefill-decode\"} 1"),
        metrics);
    // as in llm-d, a scheduling attempt is labelled with the primary (decode) profile's endpoint only
    assertTrue(metrics.contains("inference_extension_scheduler_attempts_total{namespace=\"\",pod_name=\"decode-0\","
        + "port=\"8000\",status=\"success\",target_model_name=\"m\"} 2"), metrics);
    assertFalse(metrics.contains("pod_name=\"prefill-0\""), metrics);
  }
}
