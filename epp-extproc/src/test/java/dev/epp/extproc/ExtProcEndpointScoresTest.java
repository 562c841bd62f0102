package dev.epp.extproc;

import static dev.epp.extproc.ExtProcHarness.HERMETIC_CONFIG;
import static dev.epp.extproc.ExtProcHarness.llmRequest;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingResponse;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** llm-d's {@code --emit-endpoint-scores} over a real ext_proc stream, as its endpoint_scores_test. */
class ExtProcEndpointScoresTest {

  private ExtProcHarness epp;

  @AfterEach
  void stop() throws InterruptedException {
    if (epp != null) {
      epp.close();
    }
  }

  /** The {@code envoy.lb} metadata of the request-headers response to one LLM request over two pods. */
  private Struct envoyLb() {
    epp.pod(0, 0, 0.1);
    epp.pod(1, 5, 0.5);
    List<ProcessingResponse> responses = epp.exchange(llmRequest("hello", "my-model", "my-model-12345"));
    assertEquals(2, responses.size(), responses.toString());
    ProcessingResponse headers = responses.get(0);
    assertTrue(headers.hasRequestHeaders(), headers.toString());
    assertTrue(headers.hasDynamicMetadata(), headers.toString());
    return headers.getDynamicMetadata().getFieldsOrThrow("envoy.lb").getStructValue();
  }

  @Test
  void withTheFlagEveryScoredEndpointHasItsScoreIncludingThoseNotPicked() {
    epp = new ExtProcHarness(HERMETIC_CONFIG, director -> director.explainEveryRequest(true),
        service -> service.emitEndpointScores(true));
    Struct lb = envoyLb();
    String destination = lb.getFieldsOrThrow("x-gateway-destination-endpoint").getStringValue();
    assertEquals("192.168.1.1:8000", destination);
    Map<String, Value> scores =
        lb.getFieldsOrThrow("x-gateway-destination-endpoint-scores").getStructValue().getFieldsMap();
    assertEquals(2, scores.size(), scores.toString());
    double picked = scores.get(destination).getNumberValue();
    double other = scores.get("192.168.1.2:8000").getNumberValue();
    assertTrue(other >= 0, scores.toString());
    assertTrue(picked > other, "the picked endpoint scored highest: " + scores);
  }

  @Test
  void withoutTheFlagOnlyTheDestinationIsInTheMetadata() {
    epp = new ExtProcHarness(HERMETIC_CONFIG, director -> director.explainEveryRequest(true),
        service -> service);
    Struct lb = envoyLb();
    assertEquals("192.168.1.1:8000", lb.getFieldsOrThrow("x-gateway-destination-endpoint").getStringValue());
    assertFalse(lb.containsFields("x-gateway-destination-endpoint-scores"), lb.toString());
  }
}
