package dev.epp.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.scheduler.TestPlugins.ConstantScorer;
import dev.epp.scheduler.internal.YamlTree;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Configuration text an operator (or an attacker) might hand the loader that is not a plain, well-formed document:
 * YAML aliases and merge keys, alias bombs, several documents, binary or mis-encoded files, tabs, control
 * characters and non-finite numbers. Each either loads with YAML's meaning or fails with one located message.
 */
class ConfigHostileInputTest {

  private static final String HEADER =
      "apiVersion: inference.networking.x-k8s.io/v1alpha1\nkind: EndpointPickerConfig\n";

  @TempDir Path dir;

  private static EndpointPickerConfig load(String yaml) {
    return EndpointPickerConfig.loader().registry(TestPlugins.registry()).parse(yaml, "test.yaml");
  }

  private static String error(String yaml) {
    return assertThrows(ConfigException.class, () -> load(yaml)).getMessage();
  }

  private String fileError(byte[] content) throws Exception {
    Path file = dir.resolve("epp.yaml");
    Files.write(file, content);
    return assertThrows(ConfigException.class,
        () -> EndpointPickerConfig.loader().registry(TestPlugins.registry()).load(file)).getMessage();
  }

  private static double constant(EndpointPickerConfig config, String plugin) {
    return ((ConstantScorer) config.plugin(plugin).orElseThrow()).value();
  }

  @Test
  void aliasesStandForTheAnchoredValueAndMergeKeysMergeMappings() {
    EndpointPickerConfig config = load(HEADER + """
        plugins:
        - name: &scorer weighted
          type: test-scorer
          parameters: &common
            blockSize: 32
        - name: copy
          type: test-scorer
          parameters: *common
        - name: merged
          type: test-scorer
          parameters:
            blockSize: 64
            <<: *common
        schedulingProfiles:
        - name: default
          plugins:
          - pluginRef: *scorer
            weight: 2
          - pluginRef: copy
          - pluginRef: merged
        """);
    assertEquals(List.of("weighted", "copy", "merged"),
        config.profiles().get(0).scorers().stream().map(s -> s.scorer().typedName().name()).toList());
    assertEquals(2.0, config.profiles().get(0).scorers().get(0).weight());
    assertEquals(0.32, constant(config, "weighted"));
    assertEquals(0.32, constant(config, "copy"));
    assertEquals(0.64, constant(config, "merged"), "an explicit key wins over a merged one");
  }

  @Test
  void aMergeListTakesEachKeyFromTheFirstMappingThatHasIt() {
    EndpointPickerConfig config = load(HEADER + """
        plugins:
        - name: a
          type: test-scorer
          parameters: &small {blockSize: 8}
        - name: b
          type: test-scorer
          parameters: &large {blockSize: 80}
        - name: c
          type: test-scorer
          parameters:
            <<: [*large, *small]
        """);
    assertEquals(0.8, constant(config, "c"));
  }

  @Test
  void anAliasBombIsRefusedWhereItExceedsTheBound() {
    String message = error(HEADER + """
        plugins:
        - type: test-scorer
          parameters:
            a: &a [x, x, x, x, x, x, x, x, x, x]
            b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
            c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
            d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
            e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
            f: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
        """);
    assertTrue(message.matches("test\\.yaml:9:\\d+: plugins\\[0]\\.parameters\\.d\\[\\d]: aliases expand the "
        + "configuration to more than 10000 values"), message);
  }

  @Test
  void aliasesWithoutAnAnchorBeforeThemOrInsideTheirOwnValueAreRefused() {
    assertEquals("test.yaml:6:16: schedulingProfiles[0].plugins[0].pluginRef: alias *nope has no anchor &nope "
        + "before it", error(HEADER + """
        schedulingProfiles:
        - name: default
          plugins:
          - pluginRef: *nope
        """));
    assertEquals("test.yaml:6:19: plugins[0].parameters.inner.self: alias *loop refers to the value that "
        + "contains it", error(HEADER + """
        plugins:
        - type: test-scorer
          parameters: &loop
            inner: {self: *loop}
        """));
    assertEquals("test.yaml:7:9: plugins[0].parameters.<<: a merge key '<<' takes a mapping or a list of "
        + "mappings", error(HEADER + """
        plugins:
        - type: test-scorer
          parameters:
            blockSize: &size 8
            <<: *size
        """));
  }

  @Test
  void aSecondDocumentIsRefusedAtItsStart() {
    assertEquals("test.yaml:5:1: a second YAML document starts here; the configuration must be one document",
        error(HEADER + "plugins:\n- type: test-scorer\n---\n" + HEADER + "plugins: []\n"));
    assertEquals("test.yaml:3:1: a second YAML document starts here; the configuration must be one document",
        error(HEADER + "--- just text\n"));
  }

  @Test
  void emptyDocumentMarkersAroundTheConfigurationAreAccepted() {
    EndpointPickerConfig config = load("---\n" + HEADER + "plugins:\n- type: test-scorer\n...\n---\n# done\n");
    assertTrue(config.plugin("test-scorer").isPresent());
  }

  @Test
  void anEmptyValueIsNullAsInYamlAndAQuotedEmptyStringIsNot() {
    EndpointPickerConfig config = load(HEADER + """
        plugins:
        - type: test-scorer
          name:
          parameters:
        schedulingProfiles:
        """);
    assertEquals(0.16, constant(config, "test-scorer"), "defaulted name and blockSize");
    assertEquals("default", config.profiles().get(0).name());
    assertEquals("test.yaml:5:3: plugins[0].name: plugin name must not be blank",
        error(HEADER + "plugins:\n- type: test-scorer\n  name: \"\"\n"));
  }

  @Test
  void aBinaryFileIsNotText() throws Exception {
    byte[] png = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 0x0d};
    assertEquals(dir.resolve("epp.yaml") + ":1:1: not UTF-8 text (invalid byte 0x89 at offset 0)", fileError(png));
  }

  @Test
  void aLatin1FileIsNotUtf8AndTheMessageSaysWhere() throws Exception {
    byte[] latin1 = (HEADER + "plugins:\n- name: caf\u00e9\n").getBytes(StandardCharsets.ISO_8859_1);
    int offset = HEADER.length() + "plugins:\n- name: caf".length();
    assertEquals(dir.resolve("epp.yaml") + ":4:12: not UTF-8 text (invalid byte 0xE9 at offset " + offset + ")",
        fileError(latin1));
  }

  @Test
  void controlCharactersAreNamed() {
    assertEquals("test.yaml:4:9: invalid YAML: control character U+0000 is not allowed",
        error(HEADER + "plugins:\n- name: \u0000\n"));
  }

  @Test
  void tabIndentationIsNamedWithItsLocation() {
    assertEquals("test.yaml:5:1: invalid YAML: tab characters are not allowed here; indent with spaces",
        error(HEADER + "plugins:\n- type: test-scorer\n\tparameters: {}\n"));
    assertEquals("test.yaml:6:1: invalid YAML: tab characters are not allowed here; indent with spaces",
        error(HEADER + "plugins:\n- type: test-scorer\n  parameters:\n\t  blockSize: 1\n"));
  }

  @Test
  void tabsAfterAnIndicatorAreNamedToo() {
    assertEquals("test.yaml:4:8: invalid YAML: tab characters are not allowed here; indent with spaces",
        error(HEADER + "plugins:\n- type:\ttest-scorer\n"));
  }

  @Test
  void deepNestingIsRefusedWhereItExceedsTheBound() {
    String deep = "[".repeat(YamlTree.MAX_DEPTH) + "]".repeat(YamlTree.MAX_DEPTH);
    int enclosing = 4; // the document, plugins, its entry and parameters
    int tooDeep = YamlTree.MAX_DEPTH - enclosing; // the list that is one level too deep, counted from 0
    assertEquals("test.yaml:6:" + (16 + tooDeep) + ": plugins[0].parameters.blockSize" + "[0]".repeat(tooDeep)
        + ": mappings and lists nest deeper than 64 levels",
        error(HEADER + "plugins:\n- type: test-scorer\n  parameters:\n    blockSize: " + deep + "\n"));
  }

  @Test
  void aListAsAMappingKeyIsNamed() {
    assertEquals("test.yaml:4:4: invalid YAML: a mapping key must be a string, number or boolean, not a list, "
        + "mapping or alias", error(HEADER + "plugins:\n? [a]\n: 1\n"));
  }

  @Test
  void syntaxErrorsSayWhereAndWhatWasExpected() {
    assertEquals("test.yaml:4:1: invalid YAML: expected ',' or ']', but got <stream end> "
        + "(while parsing a flow sequence at 3:10)", error(HEADER + "plugins: [a, b\n"));
    assertEquals("test.yaml:4:1: invalid YAML: expected the node content, but found '<stream end>'",
        error(HEADER + "plugins: [\n"));
    assertEquals("test.yaml:5:3: plugins[0].type: duplicate key 'type'",
        error(HEADER + "plugins:\n- type: test-filter\n  type: test-scorer\n"));
  }

  @Test
  void nonFiniteWeightsAreRefusedAsSuch() {
    String profile = HEADER + "plugins:\n- type: test-scorer\nschedulingProfiles:\n- name: p\n  plugins:\n"
        + "  - pluginRef: test-scorer\n    weight: ";
    assertEquals("test.yaml:9:5: schedulingProfiles[0].plugins[0].weight: weight must be a finite number >= 0, "
        + "got NaN", error(profile + ".nan\n"));
    assertEquals("test.yaml:9:5: schedulingProfiles[0].plugins[0].weight: weight must be a finite number >= 0, "
        + "got Infinity", error(profile + ".inf\n"));
    assertEquals("test.yaml:9:5: schedulingProfiles[0].plugins[0].weight: weight must be a finite number >= 0, "
        + "got -Infinity", error(profile + "-.Inf\n"));
  }

  @Test
  void nonFiniteThresholdsAreRefusedAsSuch() {
    assertEquals("test.yaml:6:5: plugins[0].parameters.kvCacheUtilThreshold: plugin 'utilization-detector' "
        + "(type utilization-detector): parameter 'kvCacheUtilThreshold' must be a finite number, got NaN",
        error(HEADER + "plugins:\n- type: utilization-detector\n  parameters:\n    kvCacheUtilThreshold: .NaN\n"));
  }
}
