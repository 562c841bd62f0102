package dev.epp.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The llm-d configuration format: its apiVersion, sections and defaults. */
class LlmdConfigTest {

  private static final String LLMD = "apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\n";
  private static final String GIE = "apiVersion: inference.networking.x-k8s.io/v1alpha1\nkind: EndpointPickerConfig\n";

  private static EndpointPickerConfig load(String yaml) {
    return EndpointPickerConfig.loader().registry(TestPlugins.registry()).parse(yaml, "test.yaml");
  }

  @Test
  void llmdApiVersionLoadsWithoutDeprecationNotice() {
    try (LogCapture log = new LogCapture()) {
      EndpointPickerConfig config = load(LLMD + "plugins:\n- type: test-scorer\n");
      assertEquals("test-scorer", config.profiles().get(0).scorers().get(0).scorer().typedName().name());
      assertEquals(java.util.List.of(), log.lines("INFO", "DEPRECATION"));
    }
  }

  @Test
  void gatewayApiVersionStillLoadsWithOneDeprecationNotice() {
    try (LogCapture log = new LogCapture()) {
      load(GIE + "plugins:\n- type: test-scorer\n");
      assertEquals(1, log.lines("INFO", "test.yaml: DEPRECATION: apiVersion inference.networking.x-k8s.io/v1alpha1"
          + " is deprecated; use llm-d.ai/v1alpha1").size(), log.lines().toString());
    }
  }

  @Test
  void defaultConfigurationUsesTheLlmdApiVersion() {
    try (LogCapture log = new LogCapture()) {
      EndpointPickerConfig.loader().registry(TestPlugins.registry()).defaults();
      assertTrue(log.lines("INFO", "DEPRECATION").isEmpty(), log.lines().toString());
    }
  }
}
