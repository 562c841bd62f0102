package dev.epp.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.MetricsRecorder;
import dev.epp.api.Plugin;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.TypedName;
import dev.epp.api.requestcontrol.SaturationDetector;
import dev.epp.api.scheduling.Filter;
import dev.epp.api.scheduling.Scorer;
import dev.epp.scheduler.SchedulingProfile.WeightedScorer;
import dev.epp.testkit.Fixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Valid and invalid configuration shapes, after the Go EPP's config loader tests. */
class EndpointPickerConfigTest {

  private static final String HEADER =
      "apiVersion: inference.networking.x-k8s.io/v1alpha1\nkind: EndpointPickerConfig\n";

  private static EndpointPickerConfig load(String yaml) {
    return EndpointPickerConfig.loader().registry(TestPlugins.registry()).parse(yaml, "test.yaml");
  }

  private static List<String> names(List<? extends Plugin> plugins) {
    return plugins.stream().map(p -> p.typedName().name()).toList();
  }

  private static List<String> scorerNames(SchedulingProfile profile) {
    return profile.scorers().stream().map(s -> s.scorer().typedName().name()).toList();
  }

  @Test
  void pluginsGetTheLoadersMetricsAndScheduler() throws Exception {
    List<PluginHandle> handles = new ArrayList<>();
    PluginRegistry registry = TestPlugins.registry();
    registry.register(new PluginFactory() {
      @Override
      public String type() {
        return "handle-keeper";
      }

      @Override
      public Plugin create(PluginSpec spec, PluginHandle handle) {
        handles.add(handle);
        return new Plugin() {
          @Override
          public TypedName typedName() {
            return spec.typedName();
          }
        };
      }
    });
    MetricsRecorder metrics = new MetricsRecorder() {};
    ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    try {
      String yaml = "apiVersion: inference.networking.x-k8s.io/v1alpha1\nkind: EndpointPickerConfig\n"
          + "plugins:\n- type: handle-keeper\n";
      EndpointPickerConfig config = EndpointPickerConfig.loader().registry(registry).metrics(metrics)
          .scheduler(scheduler).parse(yaml, "test.yaml");
      assertSame(metrics, config.metrics());
      assertSame(metrics, handles.get(0).metrics());
      assertSame(scheduler, handles.get(0).scheduler());

      EndpointPickerConfig.loader().registry(registry).parse(yaml, "test.yaml");
      assertSame(MetricsRecorder.noop(), handles.get(1).metrics());
      assertEquals(42, handles.get(1).scheduler().schedule(() -> 42, 0, TimeUnit.MILLISECONDS).get(),
          "the default scheduler runs tasks");
    } finally {
      scheduler.shutdownNow();
    }
  }

  @Test
  void fullConfiguration() {
    EndpointPickerConfig config = load(HEADER + """
        plugins:
        - name: test1
          type: test-filter
        - name: profileHandler
          type: test-profile-handler
        - type: test-scorer
          parameters:
            blockSize: 32
        - name: testPicker
          type: test-picker
        - name: detector
          type: utilization-detector
          parameters:
            queueDepthThreshold: 10
        schedulingProfiles:
        - name: default
          plugins:
          - pluginRef: test1
          - pluginRef: test-scorer
            weight: 50
          - pluginRef: testPicker
        featureGates:
        - dataLayer
        saturationDetector:
          pluginRef: detector
        """);
    assertEquals(List.of("test1", "profileHandler", "test-scorer", "testPicker", "detector", "openai-parser",
        "anthropic-parser", "vllmhttp-parser", "passthrough-parser"), names(config.plugins()));
    assertEquals("openai-parser", config.parsers().get(0).typedName().type());
    SchedulingProfile profile = config.profiles().get(0);
    assertEquals("default", profile.name());
    assertEquals(List.of("test1"), names(profile.filters()));
    assertEquals(50.0, profile.scorers().get(0).weight());
    assertEquals("testPicker", profile.picker().typedName().name());
    assertEquals("profileHandler", config.profileHandler().typedName().name());
    assertEquals(java.util.Set.of("dataLayer"), config.featureGates());
    assertEquals("detector", config.saturationDetector().orElseThrow().typedName().name());
  }

  @Test
  void noProfilesGivesDefaultProfileWithEveryFilterScorerAndPicker() {
    EndpointPickerConfig config = load(HEADER + """
        plugins:
        - type: test-filter
        - type: test-scorer
        - type: queue-scorer
        """);
    assertEquals(1, config.profiles().size());
    SchedulingProfile profile = config.profiles().get(0);
    assertEquals("default", profile.name());
    assertEquals(List.of("test-filter"), names(profile.filters()));
    assertEquals(List.of("test-scorer", "queue-scorer"), scorerNames(profile));
    assertTrue(profile.scorers().stream().allMatch(s -> s.weight() == 1.0));
    assertEquals("max-score-picker", profile.picker().typedName().type());
    assertEquals("single-profile-handler", config.profileHandler().typedName().type());
  }

  @Test
  void blankTextIsTheDefaultConfiguration() {
    EndpointPickerConfig config = load("  \n");
    SchedulingProfile profile = config.profiles().get(0);
    assertEquals("default", profile.name());
    assertEquals(List.of("queue-scorer", "kv-cache-utilization-scorer"), scorerNames(profile).subList(0, 2));
    assertEquals(List.of(2.0, 2.0), profile.scorers().stream().map(WeightedScorer::weight).toList().subList(0, 2));
    if (TestPlugins.registry().factory("prefix-cache-scorer").isPresent()) {
      assertEquals("prefix-cache-scorer", scorerNames(profile).get(2));
      assertEquals(3.0, profile.scorers().get(2).weight());
    }
    assertEquals("max-score-picker", profile.picker().typedName().type());
    assertEquals("single-profile-handler", config.profileHandler().typedName().type());
    assertEquals("utilization-detector", config.saturationDetector().orElseThrow().typedName().type());
  }

  @Test
  void scorerWithoutWeightGetsOne() {
    EndpointPickerConfig config = load(HEADER + """
        plugins:
        - type: single-profile-handler
        - type: test-scorer
        schedulingProfiles:
        - name: default
          plugins:
          - pluginRef: test-scorer
        """);
    assertEquals(1.0, config.profiles().get(0).scorers().get(0).weight());
  }

  @Test
  void pickerBeforeScorerAndIntegerOrFractionalWeights() {
    EndpointPickerConfig config = load(HEADER + """
        plugins:
        - type: test-picker
        - type: test-scorer
        - type: queue-scorer
        schedulingProfiles:
        - name: default
          plugins:
          - pluginRef: test-picker
          - pluginRef: test-scorer
            weight: 2
          - pluginRef: queue-scorer
            weight: 0.5
        """);
    SchedulingProfile profile = config.profiles().get(0);
    assertEquals("test-picker", profile.picker().typedName().name());
    assertEquals(List.of(2.0, 0.5), profile.scorers().stream().map(WeightedScorer::weight).toList());
    assertEquals(List.of("test-picker", "test-scorer", "queue-scorer", "single-profile-handler", "openai-parser",
        "anthropic-parser", "vllmhttp-parser", "passthrough-parser", "utilization-detector"), names(config.plugins()));
  }

  @Test
  void pluginImplementingFilterAndScorerSlotsIntoBoth() {
    EndpointPickerConfig config = load(HEADER + """
        plugins:
        - type: test-filter-scorer
        schedulingProfiles:
        - name: p
          plugins:
          - pluginRef: test-filter-scorer
            weight: 3
        """);
    SchedulingProfile profile = config.profiles().get(0);
    assertInstanceOf(Filter.class, profile.filters().get(0));
    assertInstanceOf(Scorer.class, profile.scorers().get(0).scorer());
    assertEquals(3.0, profile.scorers().get(0).weight());
  }

  @Test
  void llmdApiVersionAndFlowControlSectionWithoutGateAreAccepted() {
    EndpointPickerConfig config = EndpointPickerConfig.loader().registry(TestPlugins.registry()).parse("""
        apiVersion: llm-d.ai/v1alpha1
        kind: EndpointPickerConfig
        plugins:
        - type: max-score-picker
        featureGates: []
        flowControl:
          maxBytes: 1024
        """, "llmd.yaml");
    assertEquals("max-score-picker", config.profiles().get(0).picker().typedName().name());
  }

  @Test
  void dataLayerReferencesAndTwoProfilesWithTheirHandler() {
    EndpointPickerConfig config = load(HEADER + """
        plugins:
        - type: test-profile-handler
        - name: a
          type: test-scorer
        - name: b
          type: test-scorer
        - type: test-filter
        schedulingProfiles:
        - name: prefill
          plugins:
          - pluginRef: a
        - name: decode
          plugins:
          - pluginRef: b
        dataLayer:
          sources:
          - pluginRef: test-filter
            extractors:
            - pluginRef: a
        """);
    assertEquals(List.of("prefill", "decode"), config.profiles().stream().map(SchedulingProfile::name).toList());
    assertEquals(config.profiles().get(0).picker(), config.profiles().get(1).picker());
  }

  @Test
  void parserSectionNamesTheActiveParser() {
    EndpointPickerConfig config = load(HEADER + """
        plugins:
        - name: raw
          type: passthrough-parser
        parser:
          pluginRef: raw
        """);
    assertEquals(List.of(config.plugin("raw").orElseThrow()), config.parsers());
    assertTrue(config.plugin("openai-parser").isEmpty());
  }

  @Test
  void aSeededRandomSourceMakesRandomPickingReproducible() {
    String yaml = HEADER + "plugins:\n- type: random-picker\n";
    List<String> first = picks(EndpointPickerConfig.loader().random(new Random(42)).parse(yaml, "a.yaml"));
    List<String> second = picks(EndpointPickerConfig.loader().random(new Random(42)).parse(yaml, "b.yaml"));
    assertEquals(first, second);
    assertTrue(first.stream().distinct().count() > 1, first::toString);
  }

  private static List<String> picks(EndpointPickerConfig config) {
    Scheduler scheduler = new Scheduler(config);
    List<String> picks = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      picks.add(scheduler.schedule(Fixtures.context(), Fixtures.unscraped(8)).targets().get(0).name());
    }
    return picks;
  }

  @Test
  void pluginsByExtensionPointIncludeDefaultedOnes() {
    EndpointPickerConfig config = load(HEADER + "plugins:\n- type: queue-scorer\n");
    assertEquals(List.of("utilization-detector"), names(config.plugins(SaturationDetector.class)));
    assertEquals(List.of("queue-scorer"), names(config.plugins(Scorer.class)));
    assertTrue(config.plugin("max-score-picker").isPresent());
  }

  @Test
  void loadsFromFileAndReportsTheFileName(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("epp.yaml");
    Files.writeString(file, HEADER + "plugins:\n- type: queue-scorer\n  parameters:\n    foo: 1\n");
    ConfigException e = assertThrows(ConfigException.class,
        () -> EndpointPickerConfig.loader().registry(TestPlugins.registry()).load(file));
    assertEquals(file + ":6:5: plugins[0].parameters.foo: plugin 'queue-scorer' (type queue-scorer): "
        + "unknown parameter 'foo'", e.getMessage());
    ConfigException missing = assertThrows(ConfigException.class,
        () -> EndpointPickerConfig.loader().load(dir.resolve("absent.yaml")));
    assertTrue(missing.getMessage().contains("cannot read configuration"), missing.getMessage());
  }

  static Stream<Arguments> invalidConfigs() {
    return Stream.of(
        Arguments.of("not YAML", HEADER + "plugins: [\n", "invalid YAML"),
        Arguments.of("list item is not an object", HEADER + "plugins:\n- testing 1 2 3\n",
            "test.yaml:4:3: plugins[0]: expected an object, got \"testing 1 2 3\""),
        Arguments.of("missing type", HEADER + "plugins:\n- parameters:\n    a: 1234\n",
            "test.yaml:4:3: plugins[0]: missing required field 'type'"),
        Arguments.of("unknown plugin type", HEADER + "plugins:\n- name: x\n  type: unknown-plugin-type\n",
            "test.yaml:5:3: plugins[0].type: unknown plugin type 'unknown-plugin-type'; known types: "),
        Arguments.of("parameter of the wrong type",
            HEADER + "plugins:\n- type: test-scorer\n  parameters:\n    blockSize: asdf\n",
            "test.yaml:6:5: plugins[0].parameters.blockSize: plugin 'test-scorer' (type test-scorer): "
                + "parameter 'blockSize' must be an integer, got \"asdf\""),
        Arguments.of("unknown parameter",
            HEADER + "plugins:\n- type: test-scorer\n  parameters:\n    blockSize: 1\n    bogus: true\n",
            "test.yaml:7:5: plugins[0].parameters.bogus: plugin 'test-scorer' (type test-scorer): "
                + "unknown parameter 'bogus'"),
        Arguments.of("unknown field in a plugin entry", HEADER + "plugins:\n- type: test-scorer\n  weight: 2\n",
            "test.yaml:5:3: plugins[0].weight: unknown field 'weight'; expected one of name, parameters, type"),
        Arguments.of("unknown top-level field", HEADER + "data:\n  sources: []\n",
            "test.yaml:3:1: data: unknown field 'data'"),
        Arguments.of("missing apiVersion", "kind: EndpointPickerConfig\n", "missing required field 'apiVersion'"),
        Arguments.of("wrong apiVersion", "apiVersion: v1\nkind: EndpointPickerConfig\n",
            "test.yaml:1:1: apiVersion: unsupported apiVersion 'v1'"),
        Arguments.of("wrong kind", "apiVersion: llm-d.ai/v1alpha1\nkind: Pod\n",
            "test.yaml:2:1: kind: unsupported kind 'Pod'; expected EndpointPickerConfig"),
        Arguments.of("unknown feature gate", HEADER + "featureGates:\n- unknown-gate\n",
            "test.yaml:4:3: featureGates[0]: unknown feature gate 'unknown-gate'"),
        Arguments.of("duplicate plugin name",
            HEADER + "plugins:\n- name: t\n  type: test-filter\n- name: t\n  type: test-scorer\n",
            "test.yaml:6:3: plugins[1].name: duplicate plugin name 't' (first defined at plugins[0])"),
        Arguments.of("duplicate YAML key", HEADER + "plugins:\n- type: test-filter\n  type: test-scorer\n",
            "duplicate key 'type'"),
        Arguments.of("missing profile name",
            HEADER + "plugins:\n- type: test-filter\nschedulingProfiles:\n- plugins:\n  - pluginRef: test-filter\n",
            "test.yaml:6:3: schedulingProfiles[0]: missing required field 'name'"),
        Arguments.of("missing pluginRef",
            HEADER + "plugins:\n- type: test-filter\nschedulingProfiles:\n- name: p\n  plugins:\n  - weight: 10\n",
            "test.yaml:8:5: schedulingProfiles[0].plugins[0]: missing required field 'pluginRef'"),
        Arguments.of("dangling pluginRef",
            HEADER + "schedulingProfiles:\n- name: p\n  plugins:\n  - pluginRef: non-existent-plugin\n",
            "test.yaml:6:5: schedulingProfiles[0].plugins[0].pluginRef: no plugin named 'non-existent-plugin'"),
        Arguments.of("duplicate profile name",
            HEADER + "plugins:\n- type: test-profile-handler\nschedulingProfiles:\n- name: a\n- name: a\n",
            "test.yaml:7:3: schedulingProfiles[1].name: duplicate profile name 'a'"),
        Arguments.of("two pickers in one profile",
            HEADER + "plugins:\n- type: max-score-picker\n- type: test-picker\nschedulingProfiles:\n- name: p\n"
                + "  plugins:\n  - pluginRef: max-score-picker\n  - pluginRef: test-picker\n",
            "profile 'p' already has picker 'max-score-picker'; a profile has one picker"),
        Arguments.of("two profile handlers",
            HEADER + "plugins:\n- name: h1\n  type: single-profile-handler\n- name: h2\n  type: test-profile-handler\n",
            "more than one profile handler configured: h1, h2"),
        Arguments.of("two profiles without a handler",
            HEADER + "plugins:\n- type: max-score-picker\nschedulingProfiles:\n- name: a\n- name: b\n",
            "no profile handler configured; 2 profiles need one"),
        Arguments.of("single-profile-handler with two profiles",
            HEADER + "plugins:\n- type: single-profile-handler\nschedulingProfiles:\n- name: a\n- name: b\n",
            "single-profile-handler cannot run 2 profiles"),
        Arguments.of("profile references a profile handler",
            HEADER + "plugins:\n- type: single-profile-handler\nschedulingProfiles:\n- name: a\n  plugins:\n"
                + "  - pluginRef: single-profile-handler\n",
            "plugin 'single-profile-handler' (type single-profile-handler) is not a filter, scorer or picker"),
        Arguments.of("negative weight",
            HEADER + "plugins:\n- type: test-scorer\nschedulingProfiles:\n- name: a\n  plugins:\n"
                + "  - pluginRef: test-scorer\n    weight: -1\n",
            "test.yaml:9:5: schedulingProfiles[0].plugins[0].weight: weight must be a finite number >= 0"),
        Arguments.of("bad data source reference",
            HEADER + "dataLayer:\n  sources:\n  - pluginRef: test-one\n",
            "test.yaml:5:5: dataLayer.sources[0].pluginRef: no plugin named 'test-one' is defined"),
        Arguments.of("bad extractor reference",
            HEADER + "plugins:\n- type: test-filter\ndataLayer:\n  sources:\n  - pluginRef: test-filter\n"
                + "    extractors:\n    - pluginRef: test-one\n",
            "dataLayer.sources[0].extractors[0].pluginRef: no plugin named 'test-one' is defined"),
        Arguments.of("parser of the wrong type",
            HEADER + "plugins:\n- type: queue-scorer\nparser:\n  pluginRef: queue-scorer\n",
            "parser.pluginRef: plugin 'queue-scorer' (type queue-scorer) is not a RequestParser"),
        Arguments.of("undefined parser", HEADER + "parser:\n  pluginRef: missing-parser\n",
            "test.yaml:4:3: parser.pluginRef: no plugin named 'missing-parser' is defined"),
        Arguments.of("undefined saturation detector", HEADER + "saturationDetector:\n  pluginRef: nope\n",
            "saturationDetector.pluginRef: no plugin named 'nope' is defined"),
        Arguments.of("saturation detector of the wrong type",
            HEADER + "plugins:\n- type: queue-scorer\nsaturationDetector:\n  pluginRef: queue-scorer\n",
            "saturationDetector.pluginRef: plugin 'queue-scorer' (type queue-scorer) is not a SaturationDetector"),
        Arguments.of("plugins is not a list", HEADER + "plugins: queue-scorer\n",
            "test.yaml:3:1: plugins: expected a list, got \"queue-scorer\""),
        Arguments.of("document is not an object", "- a\n- b\n", "expected an object, got a list"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("invalidConfigs")
  void invalidConfigurationIsRejectedWithItsLocation(String name, String yaml, String expected) {
    ConfigException e = assertThrows(ConfigException.class, () -> load(yaml));
    assertTrue(e.getMessage().contains(expected), () -> "message was: " + e.getMessage());
    assertTrue(e.getMessage().startsWith("test.yaml"), () -> "message was: " + e.getMessage());
  }
}
