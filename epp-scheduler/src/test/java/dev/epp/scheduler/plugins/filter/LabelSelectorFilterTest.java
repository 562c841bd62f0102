package dev.epp.scheduler.plugins.filter;

import static dev.epp.scheduler.plugins.filter.Filtering.kept;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.epp.api.Endpoint;
import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.scheduling.Candidates;
import dev.epp.testkit.FilterContract;
import dev.epp.testkit.Fixtures;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LabelSelectorFilterTest implements FilterContract<LabelSelectorFilter> {

  /** Endpoints 0..3: decode in zone a, decode in zone b, prefill in zone a, unlabelled. */
  private static final Candidates LABELLED =
      candidates(
          Map.of("role", "decode", "zone", "a"),
          Map.of("role", "decode", "zone", "b"),
          Map.of("role", "prefill", "zone", "a"),
          Map.of());

  @Override
  public LabelSelectorFilter newFilter() {
    return new LabelSelectorFilter("selector", validParameters());
  }

  @Override
  public PluginFactory factory() {
    return new LabelSelectorFilter.Factory();
  }

  @Override
  public Parameters validParameters() {
    return Parameters.of(Map.of("matchLabels", Map.of("role", "decode")));
  }

  @Test
  void matchLabelsRequiresEveryPair() {
    assertEquals("{0, 1}", keptBy(Map.of("matchLabels", Map.of("role", "decode"))));
    assertEquals("{0}", keptBy(Map.of("matchLabels", Map.of("role", "decode", "zone", "a"))));
    assertEquals("{}", keptBy(Map.of("matchLabels", Map.of("role", "encode"))));
  }

  @Test
  void inKeepsListedValues() {
    assertEquals("{0, 1, 2}", keptBy(expression("role", "In", "decode", "prefill")));
    assertEquals("{2}", keptBy(expression("role", "In", "prefill")));
  }

  @Test
  void notInKeepsOtherValuesAndMissingLabels() {
    assertEquals("{2, 3}", keptBy(expression("role", "NotIn", "decode")));
  }

  @Test
  void existsAndDoesNotExist() {
    assertEquals("{0, 1, 2}", keptBy(expression("zone", "Exists")));
    assertEquals("{3}", keptBy(expression("zone", "DoesNotExist")));
  }

  @Test
  void requirementsCombine() {
    Map<String, Object> selector =
        Map.of(
            "matchLabels", Map.of("zone", "a"),
            "matchExpressions",
                List.of(Map.of("key", "role", "operator", "NotIn", "values", List.of("prefill"))));
    assertEquals("{0}", keptBy(selector));
  }

  @Test
  void emptySelectorIsRejected() {
    assertThrows(PluginConfigException.class, () -> new LabelSelectorFilter("s", Parameters.empty()));
    assertThrows(
        PluginConfigException.class,
        () ->
            new LabelSelectorFilter(
                "s", Parameters.of(Map.of("matchLabels", Map.of(), "matchExpressions", List.of()))));
  }

  @Test
  void malformedExpressionsNameTheParameter() {
    assertEquals("matchExpressions[0].values", rejected(expression("role", "In")));
    assertEquals("matchExpressions[0].values", rejected(expression("role", "NotIn")));
    assertEquals("matchExpressions[0].values", rejected(expression("role", "Exists", "decode")));
    assertEquals("matchExpressions[0].values", rejected(expression("role", "DoesNotExist", "decode")));
    assertEquals("matchExpressions[0].operator", rejected(expression("role", "in", "decode")));
    assertEquals("matchExpressions[0].key", rejected(expression("", "Exists")));
    assertEquals(
        "matchExpressions[0].operator", rejected(Map.of("matchExpressions", List.of(Map.of("key", "role")))));
    assertEquals(
        "matchExpressions[0].values",
        rejected(
            Map.of("matchExpressions", List.of(Map.of("key", "r", "operator", "In", "values", List.of(1))))));
  }

  @Test
  void malformedMatchLabelsNameTheParameter() {
    assertEquals("matchLabels.role", rejected(Map.of("matchLabels", Map.of("role", 5))));
    assertEquals("matchLabels", rejected(Map.of("matchLabels", List.of("role"))));
  }

  @Test
  void unknownKeyInsideAnExpressionIsRejected() {
    Map<String, Object> selector =
        Map.of("matchExpressions", List.of(Map.of("key", "role", "operator", "Exists", "valuez", List.of("x"))));
    PluginConfigException e =
        assertThrows(PluginConfigException.class, () -> createThroughFactory("s", Parameters.of(selector)));
    assertEquals("matchExpressions[0].valuez", e.parameter());
  }

  private static Map<String, Object> expression(String key, String operator, String... values) {
    Map<String, Object> expression = new LinkedHashMap<>();
    expression.put("key", key);
    expression.put("operator", operator);
    if (values.length > 0) {
      expression.put("values", List.of(values));
    }
    return Map.of("matchExpressions", List.of(expression));
  }

  private static String keptBy(Map<String, Object> selector) {
    return kept(new LabelSelectorFilter("s", Parameters.of(selector)), Fixtures.context(), LABELLED);
  }

  private static String rejected(Map<String, Object> selector) {
    return assertThrows(PluginConfigException.class, () -> new LabelSelectorFilter("s", Parameters.of(selector)))
        .parameter();
  }

  @SafeVarargs
  private static Candidates candidates(Map<String, String>... labels) {
    List<Endpoint> endpoints = new ArrayList<>();
    for (int i = 0; i < labels.length; i++) {
      endpoints.add(Fixtures.endpoint(i, labels[i]));
    }
    return Candidates.of(endpoints);
  }
}
