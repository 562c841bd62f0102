package dev.epp.scheduler.plugins.filter;

import static dev.epp.scheduler.plugins.filter.Filtering.kept;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.scheduling.Candidates;
import dev.epp.testkit.FilterContract;
import dev.epp.testkit.Fixtures;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ByLabelFilterTest implements FilterContract<ByLabelFilter> {

  /** Endpoints 0..3: gpu a100, gpu h100, gpu empty, unlabelled. */
  private static final Candidates LABELLED = Candidates.of(List.of(
      Fixtures.endpoint(0, Map.of("gpu", "a100")),
      Fixtures.endpoint(1, Map.of("gpu", "h100")),
      Fixtures.endpoint(2, Map.of("gpu", "")),
      Fixtures.endpoint(3, Map.of("zone", "a"))));

  @Override
  public ByLabelFilter newFilter() {
    return new ByLabelFilter("by-label", validParameters());
  }

  @Override
  public PluginFactory factory() {
    return new ByLabelFilter.Factory();
  }

  @Override
  public Parameters validParameters() {
    return Parameters.of(Map.of("label", "gpu", "validValues", List.of("a100"), "allowsNoLabel", true));
  }

  private static String keptBy(Map<String, Object> parameters) {
    return kept(new ByLabelFilter("f", Parameters.of(parameters)), Fixtures.context(), LABELLED);
  }

  @Test
  void keepsEndpointsWithAValidValue() {
    assertEquals("{0, 1}", keptBy(Map.of("label", "gpu", "validValues", List.of("a100", "h100"))));
  }

  @Test
  void keepsEndpointsWithoutTheLabelWhenAllowed() {
    assertEquals("{0, 3}", keptBy(Map.of("label", "gpu", "validValues", List.of("a100"), "allowsNoLabel", true)));
    assertEquals("{3}", keptBy(Map.of("label", "gpu", "allowsNoLabel", true)));
  }

  @Test
  void anEmptyValidValueAlsoKeepsEndpointsWithoutTheLabel() {
    assertEquals("{2, 3}", keptBy(Map.of("label", "gpu", "validValues", List.of(""))));
  }

  @Test
  void rejectsMissingLabelOrValues() {
    assertEquals("label", rejected(Map.of("validValues", List.of("a100"))));
    assertEquals("validValues", rejected(Map.of("label", "gpu")));
    assertEquals("validValues", rejected(Map.of("label", "gpu", "validValues", List.of(), "allowsNoLabel", false)));
  }

  private static String rejected(Map<String, Object> parameters) {
    return assertThrows(PluginConfigException.class, () -> new ByLabelFilter("f", Parameters.of(parameters)))
        .parameter();
  }
}
