package dev.epp.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.requestcontrol.Fairness;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The Director gives every request a fairness ID before admission, as llm-d derives it. */
class FairnessIdTest {

  private static final String LLMD = "apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\n";
  private static final byte[] COMPLETION = "{\"model\":\"m\",\"prompt\":\"hi\"}".getBytes(StandardCharsets.UTF_8);

  private final EndpointPool pool = new EndpointPool();

  FairnessIdTest() {
    pool.upsert(Endpoint.of("pod-0", "10.0.0.1", 8000));
    pool.updateMetrics("pod-0", EndpointMetrics.builder().updatedNanos(System.nanoTime()).build());
  }

  private Director director(String plugins) {
    return Director.builder(EndpointPickerConfig.loader().registry(TestPlugins.registry())
        .allowExperimentalPlugins(true).parse(LLMD + plugins, "test.yaml"), pool).build();
  }

  private static String fairnessId(Director director, String... headerPairs) {
    Map<String, String> headers = new HashMap<>();
    for (int i = 0; i < headerPairs.length; i += 2) {
      headers.put(headerPairs[i], headerPairs[i + 1]);
    }
    return director.route(headers, COMPLETION, null).context().get(Fairness.ID);
  }

  @Test
  void theFairnessHeaderWinsOverTheAgentIdentity() {
    Director director = director("plugins:\n- type: agent-identity\n");
    assertEquals("tenant-a", fairnessId(director, Director.FAIRNESS_ID_HEADER, "tenant-a",
        Director.GATEWAY_FAIRNESS_ID_HEADER, "tenant-b", "x-claude-code-session-id", "claude"));
    assertEquals("tenant-b", fairnessId(director, Director.GATEWAY_FAIRNESS_ID_HEADER, "tenant-b",
        "x-claude-code-session-id", "claude"));
  }

  @Test
  void theAgentIdentityIsTheFairnessIdWithoutAFairnessHeader() {
    Director director = director("plugins:\n- type: agent-identity\n");
    assertEquals("claude", fairnessId(director, "x-claude-code-session-id", "claude"));
    assertEquals("codex", fairnessId(director, Director.FAIRNESS_ID_HEADER, "", "session-id", "codex"));
  }

  @Test
  void otherwiseTheDefaultFlow() {
    assertEquals(Fairness.DEFAULT_ID, fairnessId(director("plugins:\n- type: agent-identity\n")));
    assertEquals(Fairness.DEFAULT_ID,
        fairnessId(director("plugins:\n- type: test-scorer\n"), "x-claude-code-session-id", "claude"));
  }
}
