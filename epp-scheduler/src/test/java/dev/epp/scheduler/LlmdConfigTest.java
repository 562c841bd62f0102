package dev.epp.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.Plugin;
import dev.epp.testkit.LogCapture;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

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
  void deprecatedByLabelLoadsWithOneDeprecationWarning() {
    try (LogCapture log = new LogCapture()) {
      load(LLMD + """
          plugins:
          - name: gpu
            type: by-label
            parameters:
              label: gpu
              validValues: [a100]
          - type: test-scorer
          """);
      assertEquals(1, log.lines("WARN", "DEPRECATION: plugin 'gpu': type 'by-label' is deprecated; use "
          + "'label-selector-filter'").size(), log.lines().toString());
    }
  }

  @Test
  void defaultConfigurationUsesTheLlmdApiVersion() {
    try (LogCapture log = new LogCapture()) {
      EndpointPickerConfig.loader().registry(TestPlugins.registry()).defaults();
      assertTrue(log.lines("INFO", "DEPRECATION").isEmpty(), log.lines().toString());
    }
  }

  private static List<String> names(List<? extends Plugin> plugins) {
    return plugins.stream().map(p -> p.typedName().name()).toList();
  }

  @Test
  void requestHandlerParsersAreUsedUpToTheFirstFallback() {
    EndpointPickerConfig config = load(LLMD + """
        plugins:
        - name: opaque
          type: passthrough-parser
        - type: openai-parser
        requestHandler:
          parsers:
          - pluginRef: opaque
          - pluginRef: openai-parser
        """);
    assertEquals(List.of("opaque"), names(config.parsers()));
  }

  @Test
  void withoutParsersTheRegisteredLlmdDefaultsAreUsed() {
    EndpointPickerConfig config = load(LLMD + "plugins:\n- type: test-scorer\n");
    assertEquals(List.of("openai-parser", "anthropic-parser", "vllmhttp-parser", "passthrough-parser"),
        names(config.parsers()));
    PluginRegistry onlyPassthrough = new PluginRegistry();
    onlyPassthrough.register(new dev.epp.scheduler.plugins.parser.PassthroughParser.Factory());
    onlyPassthrough.register(new dev.epp.scheduler.plugins.picker.MaxScorePicker.Factory());
    onlyPassthrough.register(new dev.epp.scheduler.plugins.profile.SingleProfileHandler.Factory());
    EndpointPickerConfig fallback = EndpointPickerConfig.loader().registry(onlyPassthrough)
        .parse(LLMD + "plugins: []\n", "test.yaml");
    assertEquals(List.of("passthrough-parser"), names(fallback.parsers()));
  }

  @Test
  void deprecatedTopLevelParserStillWorksAndRequestHandlerWinsOverIt() {
    String plugins = """
        plugins:
        - type: passthrough-parser
        - type: openai-parser
        parser:
          pluginRef: passthrough-parser
        """;
    try (LogCapture log = new LogCapture()) {
      assertEquals(List.of("passthrough-parser"), names(load(LLMD + plugins).parsers()));
      assertEquals(1, log.lines("INFO", "DEPRECATION: top-level parser is deprecated").size(), log.lines().toString());
    }
    EndpointPickerConfig both = load(LLMD + plugins + "requestHandler:\n  parsers:\n  - pluginRef: openai-parser\n");
    assertEquals(List.of("openai-parser"), names(both.parsers()));
  }

  @Test
  void flowControlSaturationDetectorWinsOverTheDeprecatedTopLevelOne() {
    EndpointPickerConfig config = load(LLMD + """
        plugins:
        - name: old
          type: utilization-detector
        - name: new
          type: utilization-detector
        saturationDetector:
          pluginRef: old
        flowControl:
          saturationDetector:
            pluginRef: new
        """);
    assertEquals("new", config.saturationDetector().orElseThrow().typedName().name());
  }

  @Test
  void llmdDataLayerAndFlowControlFieldsAreAcceptedAndReportedAsIgnored() {
    try (LogCapture log = new LogCapture()) {
      EndpointPickerConfig config = load(LLMD + """
          plugins:
          - type: test-scorer
          - name: syncer
            type: test-filter
          - type: global-strict-fairness-policy
          - type: fcfs-ordering-policy
          - name: limit
            type: static-usage-limit-policy
          dataLayer:
            injectDefaults: true
            discovery:
              pluginRef: syncer
            peerDiscovery:
              pluginRef: syncer
            crossReplicaSyncerPluginRef: syncer
            crossReplicaSyncInterval: 200ms
          flowControl:
            maxBytes: 1Gi
            maxRequests: 100
            defaultRequestTTL: 60s
            noEndpointRequestTTL: 5m
            defaultPriorityBand:
              maxRequests: 1k
            defaultNegativePriorityBand:
              maxRequests: "10"
              fairnessPolicyRef: global-strict-fairness-policy
            priorityBands:
            - priority: 1
              maxBytes: 500M
              orderingPolicyRef: fcfs-ordering-policy
            - priority: -1
            usageLimitPolicyPluginRef: limit
            enableEviction: true
          """);
      assertEquals(List.of("test-scorer"), names(config.profiles().get(0).scorers().stream()
          .map(SchedulingProfile.WeightedScorer::scorer).toList()));
      assertEquals(1, log.lines("WARN", "dataLayer settings [crossReplicaSyncInterval, crossReplicaSyncerPluginRef,"
          + " discovery, peerDiscovery] are ignored").size(), log.lines().toString());
      assertEquals(1, log.lines("WARN", "flowControl settings [defaultNegativePriorityBand, defaultPriorityBand,"
          + " defaultRequestTTL, enableEviction, maxBytes, maxRequests, noEndpointRequestTTL, priorityBands,"
          + " usageLimitPolicyPluginRef] are ignored: the flowControl feature gate is off").size(),
          log.lines().toString());
      assertTrue(config.flowControl().isEmpty());
    }
  }

  static Stream<Arguments> invalid() {
    return Stream.of(
        Arguments.of(LLMD + "requestHandler:\n  parser: []\n",
            "test.yaml:4:3: requestHandler.parser: unknown field 'parser'; expected one of parsers"),
        Arguments.of(LLMD + "requestHandler:\n  parsers:\n  - pluginRef: nope\n",
            "test.yaml:5:5: requestHandler.parsers[0].pluginRef: no plugin named 'nope' is defined"),
        Arguments.of(LLMD + "plugins:\n- type: test-scorer\nrequestHandler:\n  parsers:\n  - pluginRef: test-scorer\n",
            "requestHandler.parsers[0].pluginRef: plugin 'test-scorer' (type test-scorer) is not a RequestParser"),
        Arguments.of(LLMD + "dataLayer:\n  injectDefaults: maybe\n",
            "test.yaml:4:3: dataLayer.injectDefaults: expected true or false, got \"maybe\""),
        Arguments.of(LLMD + "dataLayer:\n  discovery:\n    pluginRef: k8s\n",
            "dataLayer.discovery.pluginRef: no plugin named 'k8s' is defined"),
        Arguments.of(LLMD + "dataLayer:\n  crossReplicaSyncerPluginRef: redis\n",
            "dataLayer.crossReplicaSyncerPluginRef: no plugin named 'redis' is defined"),
        Arguments.of(LLMD + "dataLayer:\n  crossReplicaSyncInterval: 200\n",
            "test.yaml:4:3: dataLayer.crossReplicaSyncInterval: expected a string, got 200"),
        Arguments.of(LLMD + "dataLayer:\n  crossReplicaSyncInterval: soon\n",
            "dataLayer.crossReplicaSyncInterval: expected a duration such as \"200ms\" or \"1m\", not negative, got"
                + " \"soon\""),
        Arguments.of(LLMD + "flowControl:\n  noEndpointRequestTTL: -1s\n",
            "test.yaml:4:3: flowControl.noEndpointRequestTTL: expected a duration such as \"200ms\" or \"1m\","
                + " not negative, got \"-1s\""),
        Arguments.of(LLMD + "flowControl:\n  maxBytes: lots\n",
            "flowControl.maxBytes: expected a quantity such as 100, \"1k\" or \"1Gi\", got \"lots\""),
        Arguments.of(LLMD + "flowControl:\n  enableEviction: yes please\n",
            "flowControl.enableEviction: expected true or false, got \"yes please\""),
        Arguments.of(LLMD + "flowControl:\n  defaultNegativePriorityBand:\n    maxRequest: 5\n",
            "flowControl.defaultNegativePriorityBand.maxRequest: unknown field 'maxRequest'"),
        Arguments.of(LLMD + "flowControl:\n  priorityBands:\n  - maxRequests: 5\n",
            "flowControl.priorityBands[0]: missing required field 'priority'"),
        Arguments.of(LLMD + "flowControl:\n  priorityBands:\n  - priority: 1\n  - priority: 1\n",
            "test.yaml:6:5: flowControl.priorityBands[1].priority: duplicate priority 1 (first at"
                + " flowControl.priorityBands[0])"),
        Arguments.of(LLMD + "flowControl:\n  saturationDetector:\n    pluginRef: nope\n",
            "flowControl.saturationDetector.pluginRef: no plugin named 'nope' is defined"),
        Arguments.of(LLMD + "flowControl:\n  maxConcurrency: 5\n",
            "flowControl.maxConcurrency: unknown field 'maxConcurrency'"));
  }

  @ParameterizedTest
  @MethodSource("invalid")
  void invalidLlmdFieldsAreLocatedErrors(String yaml, String expected) {
    ConfigException e = assertThrows(ConfigException.class, () -> load(yaml));
    assertTrue(e.getMessage().contains(expected), e.getMessage());
  }

  @Test
  void experimentalPluginTypesNeedTheLoaderToAllowThem() {
    PluginRegistry registry = TestPlugins.registry();
    registry.register(new dev.epp.api.PluginFactory() {
      @Override
      public String type() {
        return "alpha-scorer";
      }

      @Override
      public Plugin create(dev.epp.api.PluginSpec spec, dev.epp.api.PluginHandle handle) {
        return new TestPlugins.ConstantScorer(spec.typedName(), 0.5);
      }

      @Override
      public boolean experimental() {
        return true;
      }
    });
    String yaml = LLMD + "plugins:\n- type: test-scorer\n- name: tried\n  type: alpha-scorer\n";
    ConfigException refused = assertThrows(ConfigException.class,
        () -> EndpointPickerConfig.loader().registry(registry).parse(yaml, "test.yaml"));
    assertEquals("test.yaml:6:3: plugins[1].type: plugin 'tried' (type alpha-scorer) is experimental (Alpha); start"
        + " the EPP with --allow-experimental-plugins to use it", refused.getMessage());
    EndpointPickerConfig allowed =
        EndpointPickerConfig.loader().registry(registry).allowExperimentalPlugins(true).parse(yaml, "test.yaml");
    assertEquals(List.of("test-scorer", "tried"), names(allowed.profiles().get(0).scorers().stream()
        .map(SchedulingProfile.WeightedScorer::scorer).toList()));
  }

  @Test
  void aConsumerMayBeDeclaredBeforeTheProducerItReads() {
    EndpointPickerConfig config = EndpointPickerConfig.loader().parse(LLMD + """
        plugins:
        - type: token-load-scorer
          parameters:
            inFlightLoadProducerName: load
        - name: load
          type: inflight-load-producer
        - type: prefix-cache-affinity-filter
          parameters:
            inFlightLoadProducerName: load
            prefixMatchInfoProducerName: prefixes
        - name: prefixes
          type: approx-prefix-cache-producer
        """, "test.yaml");
    assertEquals(List.of("load", "token-load-scorer", "prefixes", "prefix-cache-affinity-filter"),
        names(config.plugins()).subList(0, 4));
  }

  @Test
  void aProducerDeclaredLaterStillReportsItsOwnErrorsAtItsOwnEntry() {
    ConfigException e = assertThrows(ConfigException.class, () -> EndpointPickerConfig.loader().parse(LLMD + """
        plugins:
        - type: token-load-scorer
        - type: inflight-load-producer
          parameters:
            nope: 1
        """, "test.yaml"));
    assertTrue(e.getMessage().startsWith("test.yaml:7:5: plugins[1].parameters.nope:"), e.getMessage());
  }

  @Test
  void aConsumerNamingNoDeclaredProducerIsStillAnError() {
    ConfigException e = assertThrows(ConfigException.class, () -> EndpointPickerConfig.loader().parse(LLMD + """
        plugins:
        - type: token-load-scorer
          parameters:
            inFlightLoadProducerName: missing
        """, "test.yaml"));
    assertTrue(e.getMessage().contains("names no inflight-load-producer plugin 'missing' under plugins"),
        e.getMessage());
  }
}
