package dev.epp.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.scheduler.flowcontrol.FlowControlConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The {@code flowControl} section bound into {@link FlowControlConfig} when the feature gate is on. */
class FlowControlBindingTest {

  private static final String GATED = """
      apiVersion: llm-d.ai/v1alpha1
      kind: EndpointPickerConfig
      featureGates:
      - flowControl
      """;

  private static EndpointPickerConfig load(String yaml) {
    return EndpointPickerConfig.loader().registry(TestPlugins.registry()).parse(yaml, "test.yaml");
  }

  @Test
  void theGateBindsEverySettingWithKubernetesQuantitiesAndResolvedPolicies() {
    EndpointPickerConfig config = load(GATED + """
        plugins:
        - name: rr
          type: round-robin-fairness-policy
        - name: edf
          type: edf-ordering-policy
        - name: limit
          type: static-usage-limit-policy
          parameters:
            threshold: 0.8
        flowControl:
          maxBytes: 1Gi
          maxRequests: 2k
          defaultRequestTTL: 30s
          noEndpointRequestTTL: 5s
          defaultPriorityBand:
            maxRequests: "10"
            fairnessPolicyRef: rr
          defaultNegativePriorityBand:
            maxBytes: 500M
          priorityBands:
          - priority: 2
            maxRequests: 7
            orderingPolicyRef: edf
          - priority: -1
          usageLimitPolicyPluginRef: limit
        """);
    FlowControlConfig flow = config.flowControl().orElseThrow();
    assertEquals(1L << 30, flow.maxBytes());
    assertEquals(2000, flow.maxRequests());
    assertEquals(Duration.ofSeconds(30), flow.defaultRequestTTL());
    assertEquals(Duration.ofSeconds(5), flow.noEndpointRequestTTL());
    assertEquals(10, flow.defaultPriorityBand().maxRequests());
    assertSame(config.plugin("rr").orElseThrow(), flow.defaultPriorityBand().fairness());
    assertEquals(500_000_000L, flow.defaultNegativePriorityBand().maxBytes());
    assertEquals(2, flow.priorityBands().size());
    assertEquals(2, flow.priorityBands().get(0).priority());
    assertEquals(7, flow.priorityBands().get(0).maxRequests());
    assertSame(config.plugin("edf").orElseThrow(), flow.priorityBands().get(0).ordering());
    assertEquals(-1, flow.priorityBands().get(1).priority());
    assertNull(flow.priorityBands().get(1).fairness());
    assertSame(config.plugin("limit").orElseThrow(), flow.usageLimit());
  }

  @Test
  void anEmptySectionUnderTheGateHasLlmdDefaultsAndTheNoEndpointTtlFollowsTheDefaultTtl() {
    FlowControlConfig defaults = load(GATED).flowControl().orElseThrow();
    assertEquals(FlowControlConfig.defaults(), defaults);
    FlowControlConfig ttl = load(GATED + "flowControl:\n  defaultRequestTTL: 2m\n").flowControl().orElseThrow();
    assertEquals(Duration.ofMinutes(2), ttl.defaultRequestTTL());
    assertEquals(Duration.ofMinutes(2), ttl.noEndpointRequestTTL());
  }

  @Test
  void theReadmeExampleLoads() throws IOException {
    String readme = Files.readString(Path.of("..", "README.md"));
    int section = readme.indexOf("### Flow control");
    int start = readme.indexOf("```yaml\n", section) + "```yaml\n".length();
    String yaml = readme.substring(start, readme.indexOf("```", start));
    FlowControlConfig flow = load("apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\n" + yaml)
        .flowControl().orElseThrow();
    assertEquals(20_000, flow.maxRequests());
    assertEquals(Duration.ofSeconds(5), flow.noEndpointRequestTTL());
  }

  @Test
  void withoutTheGateTheSectionIsValidatedButNotBound() {
    EndpointPickerConfig config = load("apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\n"
        + "flowControl:\n  maxRequests: 5\n");
    assertTrue(config.flowControl().isEmpty());
  }

  static Stream<Arguments> invalid() {
    return Stream.of(
        Arguments.of("flowControl:\n  maxRequests: 1.5\n", "flowControl.maxRequests: expected a quantity"),
        Arguments.of("flowControl:\n  maxBytes: 100m\n", "flowControl.maxBytes: expected a quantity"),
        Arguments.of("plugins:\n- type: test-scorer\nflowControl:\n  usageLimitPolicyPluginRef: test-scorer\n",
            "flowControl.usageLimitPolicyPluginRef: plugin 'test-scorer' (type test-scorer) is not a UsageLimitPolicy"),
        Arguments.of("plugins:\n- name: edf\n  type: edf-ordering-policy\n"
                + "flowControl:\n  priorityBands:\n  - priority: 1\n    fairnessPolicyRef: edf\n",
            "flowControl.priorityBands[0].fairnessPolicyRef: plugin 'edf' (type edf-ordering-policy) is not a"
                + " FairnessPolicy"),
        Arguments.of("flowControl:\n  priorityBands:\n  - priority: high\n",
            "flowControl.priorityBands[0].priority: expected an integer"),
        Arguments.of("flowControl:\n  defaultPriorityBand:\n    orderingPolicyRef: nope\n",
            "flowControl.defaultPriorityBand.orderingPolicyRef: no plugin named 'nope' is defined"));
  }

  @ParameterizedTest
  @MethodSource("invalid")
  void invalidSettingsAreLocatedErrors(String section, String expected) {
    ConfigException e = assertThrows(ConfigException.class, () -> load(GATED + section));
    assertTrue(e.getMessage().contains(expected), e.getMessage());
  }
}
