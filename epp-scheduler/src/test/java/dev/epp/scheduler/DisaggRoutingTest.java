package dev.epp.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.Endpoint;
import dev.epp.api.InferenceException;
import dev.epp.api.MetricsRecorder;
import dev.epp.api.TypedName;
import dev.epp.scheduler.plugins.disagg.RoleFilter;
import dev.epp.testkit.LogCapture;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Prefill/decode disaggregation through the real loader, scheduler and {@link Director}: llm-d's decision cases for
 * {@code disagg-profile-handler} with {@code prefix-based-pd-decider}, the sidecar header on the upstream request, the
 * deprecated aliases and conditional decode.
 */
class DisaggRoutingTest {

  private static final String PRODUCER = """
      - type: approx-prefix-cache-producer
        parameters:
          autoTune: false
          blockSizeTokens: 16
      """;

  private static final String PLUGINS = """
      - type: prefill-filter
      - type: decode-filter
      - type: prefix-cache-scorer
      - type: prefix-based-pd-decider
        parameters:
          nonCachedTokens: 100
      """;

  private static final String PROFILES = """
      schedulingProfiles:
      - name: decode
        plugins:
        - pluginRef: decode-filter
        - pluginRef: prefix-cache-scorer
      - name: prefill
        plugins:
        - pluginRef: prefill-filter
      """;

  /** Without a prefix-cache scorer, which would add a producer: no prefix information. */
  private static final String NO_PREFIX = """
      apiVersion: llm-d.ai/v1alpha1
      kind: EndpointPickerConfig
      plugins:
      - type: prefill-filter
      - type: decode-filter
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
      - name: prefill
        plugins:
        - pluginRef: prefill-filter
      """;

  private static final String HANDLER = """
      - type: disagg-profile-handler
        parameters:
          deciders:
            prefill: prefix-based-pd-decider
      """;

  private static final Endpoint DECODE = new Endpoint("decode-0", "10.0.0.1", 8000,
      Map.of(RoleFilter.ROLE_LABEL, "decode"));
  private static final Endpoint PREFILL = new Endpoint("prefill-0", "10.0.0.2", 8001,
      Map.of(RoleFilter.ROLE_LABEL, "prefill"));

  private final List<String> decisions = new ArrayList<>();
  private final MetricsRecorder recorder = new MetricsRecorder() {
    @Override
    public void recordDisaggDecision(TypedName plugin, String targetModel, String decisionType) {
      decisions.add(plugin + " " + targetModel + " " + decisionType);
    }
  };

  private static String config(String plugins) {
    return "apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\nplugins:\n" + plugins + PROFILES;
  }

  private Director director(String yaml, Endpoint... endpoints) {
    EndpointPool pool = new EndpointPool();
    for (Endpoint endpoint : endpoints) {
      pool.upsert(endpoint);
    }
    EndpointPickerConfig config =
        EndpointPickerConfig.loader().registry(TestPlugins.registry()).metrics(recorder).parse(yaml, "test.yaml");
    return Director.builder(config, pool).build();
  }

  private Director director(Endpoint... endpoints) {
    return director(config(PRODUCER + PLUGINS + HANDLER), endpoints);
  }

  /** Routes a completions request for model {@code m}; a prompt of n characters is n/4 estimated tokens. */
  private static Routing route(Director director, String prompt, Map<String, String> extraHeaders) {
    Map<String, String> headers = new HashMap<>(extraHeaders);
    headers.put(":path", "/v1/completions");
    String body = "{\"model\":\"m\",\"prompt\":\"" + prompt + "\"}";
    return director.route(headers, body.getBytes(StandardCharsets.UTF_8), null);
  }

  private static Routing route(Director director, String prompt) {
    return route(director, prompt, Map.of());
  }

  @Test
  void anUncachedPromptAtTheThresholdGoesToPrefillAndTheDecodeSidecarLearnsWhere() {
    Routing routing = route(director(DECODE, PREFILL), "a".repeat(400)); // 100 tokens, none cached
    assertEquals(List.of(DECODE), routing.targets());
    assertEquals("decode", routing.result().orElseThrow().primaryProfile());
    assertEquals(List.of(PREFILL), routing.result().orElseThrow().profileResults().get("prefill").targets());
    assertEquals(Map.of("x-prefiller-host-port", "10.0.0.2:8001"), routing.upstreamHeaders());
    assertEquals(List.of("disagg-profile-handler/disagg-profile-handler m prefill-decode"), decisions);
  }

  @Test
  void aPromptBelowTheThresholdIsDecodedOnly() {
    Routing routing = route(director(DECODE, PREFILL), "a".repeat(396)); // 99 tokens
    assertEquals(List.of(DECODE), routing.targets());
    assertFalse(routing.result().orElseThrow().profileResults().containsKey("prefill"));
    assertEquals(Map.of(), routing.upstreamHeaders());
    assertEquals(List.of("disagg-profile-handler/disagg-profile-handler m decode-only"), decisions);
  }

  @Test
  void theCachedPrefixOnTheDecodeEndpointCountsAgainstTheThreshold() {
    Director director = director(DECODE, PREFILL);
    String prefix = "p".repeat(320); // 5 blocks of 16 tokens
    route(director, prefix + "q".repeat(320)); // 160 tokens uncached: prefill; the decode pod now holds 10 blocks
    // 160 tokens, 5 blocks (80 tokens) cached: 80 uncached < 100
    Routing cachedEnough = route(director, prefix + "r".repeat(320));
    assertEquals(Map.of(), cachedEnough.upstreamHeaders());
    // 240 tokens, 5 blocks (80 tokens) cached: 160 uncached >= 100
    Routing notCachedEnough = route(director, prefix + "s".repeat(640));
    assertEquals("10.0.0.2:8001", notCachedEnough.upstreamHeaders().get("x-prefiller-host-port"));
    assertEquals(List.of("prefill-decode", "decode-only", "prefill-decode"),
        decisions.stream().map(d -> d.substring(d.lastIndexOf(' ') + 1)).toList());
  }

  @Test
  void withoutPrefixInformationTheRequestIsNotDisaggregated() {
    Routing routing = route(director(NO_PREFIX, DECODE, PREFILL), "a".repeat(4000));
    assertEquals(List.of(DECODE), routing.targets());
    assertEquals(Map.of(), routing.upstreamHeaders());
  }

  @Test
  void noDecodeEndpointFailsTheRequestWithNoCapacity() {
    InferenceException e = assertThrows(InferenceException.class,
        () -> route(director(PREFILL), "a".repeat(400)));
    assertEquals(InferenceException.Code.RESOURCE_EXHAUSTED, e.code());
    assertEquals("failed to find target endpoint: failed to find available decode workers", e.getMessage());
    assertEquals(List.of(), decisions);
  }

  @Test
  void noPrefillEndpointDecodesOnly() {
    Routing routing = route(director(DECODE), "a".repeat(400));
    assertEquals(List.of(DECODE), routing.targets());
    assertFalse(routing.result().orElseThrow().profileResults().containsKey("prefill"));
    assertEquals(Map.of(), routing.upstreamHeaders());
    assertEquals(List.of("disagg-profile-handler/disagg-profile-handler m decode-only"), decisions);
  }

  @Test
  void anUnlabelledEndpointServesDecode() {
    Endpoint plain = Endpoint.of("plain-0", "10.0.0.3", 8000);
    Routing routing = route(director(plain, PREFILL), "a".repeat(400));
    assertEquals(List.of(plain), routing.targets());
    assertEquals("10.0.0.2:8001", routing.upstreamHeaders().get("x-prefiller-host-port"));
  }

  @Test
  void aClientsPrefillerHeaderIsAControlHeaderThatNeverReachesUpstream() {
    assertTrue(Director.CONTROL_HEADERS.contains("x-prefiller-host-port"));
    assertTrue(Director.CONTROL_HEADERS.contains("x-encoder-hosts-ports"));
    Routing routing = route(director(DECODE, PREFILL), "a".repeat(4), Map.of("x-prefiller-host-port", "1.2.3.4:1"));
    assertEquals(Map.of(), routing.upstreamHeaders());
  }

  @Test
  void withoutADeciderTheHandlerOnlyDecodes() {
    String yaml = config(PRODUCER + PLUGINS + "- type: disagg-profile-handler\n");
    Routing routing = route(director(yaml, DECODE, PREFILL), "a".repeat(4000));
    assertEquals(Map.of(), routing.upstreamHeaders());
    assertEquals(List.of("disagg-profile-handler/disagg-profile-handler m decode-only"), decisions);
  }

  @Test
  void alwaysDisaggPdDeciderDisaggregatesShortPrompts() {
    String yaml = config(PLUGINS + """
        - type: always-disagg-pd-decider
        - type: disagg-profile-handler
          parameters:
            profiles:
              decode: decode
              prefill: prefill
            deciders:
              prefill: always-disagg-pd-decider
        """);
    Routing routing = route(director(yaml, DECODE, PREFILL), "a");
    assertEquals("10.0.0.2:8001", routing.upstreamHeaders().get("x-prefiller-host-port"));
  }

  @Test
  void prefillFirstRunsPrefillBeforeDecode() {
    String yaml = config(PLUGINS + """
        - type: disagg-profile-handler
          parameters:
            stageOrder: prefill-first
        """);
    Routing routing = route(director(yaml, DECODE, PREFILL), "a");
    assertEquals(List.of(PREFILL), routing.result().orElseThrow().profileResults().get("prefill").targets());
    assertEquals(List.of(DECODE), routing.targets());
    assertEquals("10.0.0.2:8001", routing.upstreamHeaders().get("x-prefiller-host-port"));
    assertEquals(List.of("disagg-profile-handler/disagg-profile-handler m prefill-decode"), decisions);
  }

  @Test
  void multimodalChatRequestsRunTheEncodeStageOnEveryPickedEncoder() {
    String yaml = """
        apiVersion: llm-d.ai/v1alpha1
        kind: EndpointPickerConfig
        plugins:
        - type: encode-filter
        - type: decode-filter
        - type: max-score-picker
          parameters:
            maxNumOfEndpoints: 2
        - type: always-disagg-multimodal-decider
        - type: disagg-profile-handler
          parameters:
            deciders:
              encode: always-disagg-multimodal-decider
        schedulingProfiles:
        - name: decode
          plugins:
          - pluginRef: decode-filter
        - name: encode
          plugins:
          - pluginRef: encode-filter
          - pluginRef: max-score-picker
        """;
    Endpoint encode0 = new Endpoint("encode-0", "10.0.1.1", 9000, Map.of(RoleFilter.ROLE_LABEL, "encode"));
    Endpoint encode1 = new Endpoint("encode-1", "10.0.1.2", 9000, Map.of(RoleFilter.ROLE_LABEL, "encode-prefill"));
    Director director = director(yaml, DECODE, encode0, encode1);
    String image = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":["
        + "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x/cat.png\"}}]}]}";
    Routing routing = director.route(Map.of(":path", "/v1/chat/completions"),
        image.getBytes(StandardCharsets.UTF_8), null);
    assertEquals(List.of(DECODE), routing.targets());
    assertEquals(Set.of("10.0.1.1:9000", "10.0.1.2:9000"),
        Set.of(routing.upstreamHeaders().get("x-encoder-hosts-ports").split(",")));
    String text = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    assertEquals(Map.of(), director.route(Map.of(":path", "/v1/chat/completions"),
        text.getBytes(StandardCharsets.UTF_8), null).upstreamHeaders());
    assertEquals(List.of("disagg-profile-handler/disagg-profile-handler m encode-decode",
        "disagg-profile-handler/disagg-profile-handler m decode-only"), decisions);
  }

  @Test
  void prefillFirstRefusesAPrefillDecider() {
    String yaml = config(PLUGINS + """
        - type: disagg-profile-handler
          parameters:
            stageOrder: prefill-first
            deciders:
              prefill: prefix-based-pd-decider
        """);
    ConfigException e = assertThrows(ConfigException.class, () -> director(yaml, DECODE));
    assertTrue(e.getMessage().contains("stageOrder"), e.getMessage());
  }

  @Test
  void badParametersAreConfigurationErrors() {
    for (String parameters : List.of("stageOrder: sideways", "deciders: {prefill: nowhere}",
        "deciders: {prefill: decode-filter}", "decodeProfile: d\n    profiles: {decode: d}")) {
      String yaml = config(PLUGINS + "- type: disagg-profile-handler\n  parameters:\n    " + parameters + "\n");
      ConfigException e = assertThrows(ConfigException.class, () -> director(yaml, DECODE), parameters);
      assertTrue(e.getMessage().contains("test.yaml:"), e.getMessage());
    }
    String negative = config("""
        - type: prefix-based-pd-decider
          parameters:
            nonCachedTokens: -1
        """);
    assertTrue(assertThrows(ConfigException.class, () -> director(negative, DECODE)).getMessage()
        .contains("nonCachedTokens"));
  }

  @Test
  void deprecatedAliasesLoadWithOneWarningEach() {
    String yaml = config(PRODUCER + PLUGINS + """
        - type: pd-profile-handler
          parameters:
            prefixPluginType: prefix-cache-scorer
            deciderPluginName: prefix-based-pd-decider
        - type: disagg-headers-handler
        - type: prefill-header-handler
        """);
    try (LogCapture log = new LogCapture()) {
      Routing routing = route(director(yaml, DECODE, PREFILL), "a".repeat(400));
      assertEquals("10.0.0.2:8001", routing.upstreamHeaders().get("x-prefiller-host-port"));
      for (String type : List.of("pd-profile-handler", "disagg-headers-handler", "prefill-header-handler")) {
        assertEquals(1, log.lines("WARN", "type '" + type + "' is deprecated").size(), type);
      }
    }
    assertEquals(List.of("pd-profile-handler/pd-profile-handler m prefill-decode"), decisions);
  }

  @Test
  void flatParametersOfOlderReleasesLoadWithAWarning() {
    String yaml = config(PRODUCER + PLUGINS + """
        - type: disagg-profile-handler
          parameters:
            decodeProfile: decode
            prefillDeciderPluginName: prefix-based-pd-decider
        """);
    try (LogCapture log = new LogCapture()) {
      Routing routing = route(director(yaml, DECODE, PREFILL), "a".repeat(400));
      assertEquals("10.0.0.2:8001", routing.upstreamHeaders().get("x-prefiller-host-port"));
      assertEquals(1, log.lines("WARN", "flat parameters").size());
    }
  }

  @Test
  void pdProfileHandlerRefusesPrimaryPort() {
    String yaml = config(PLUGINS + "- type: pd-profile-handler\n  parameters:\n    primaryPort: 8000\n");
    assertTrue(assertThrows(ConfigException.class, () -> director(yaml, DECODE)).getMessage()
        .contains("primaryPort"));
  }

  @Test
  void conditionalDecodeFailsWith412UntilTheDecodeEndpointHoldsThePrefix() {
    Director director = director(DECODE, PREFILL);
    String prompt = "c".repeat(400);
    InferenceException e = assertThrows(InferenceException.class,
        () -> route(director, prompt, Map.of("prefer", "respond-async, if-available")));
    assertEquals(InferenceException.Code.PRECONDITION_FAILED, e.code());
    assertEquals(412, e.code().httpStatus());
    assertEquals("no decode worker has the requested KV cache", e.getMessage());
    route(director, prompt);
    Routing routing = route(director, prompt, Map.of("prefer", "If-Available; x=1"));
    assertEquals(List.of(DECODE), routing.targets());
  }

  @Test
  void conditionalDecodeWithoutPrefixInformationFails() {
    Director director = director(NO_PREFIX, DECODE, PREFILL);
    route(director, "c");
    assertEquals(InferenceException.Code.PRECONDITION_FAILED, assertThrows(InferenceException.class,
        () -> route(director, "c", Map.of("prefer", "if-available"))).code());
    assertEquals(List.of(DECODE), route(director, "c", Map.of("prefer", "return=minimal")).targets());
  }
}
