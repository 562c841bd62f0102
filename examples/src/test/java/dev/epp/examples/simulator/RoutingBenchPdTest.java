package dev.epp.examples.simulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code routing-bench}'s {@code pd} workload with its defaults: the prefill/decode rows split the work as llm-d's
 * sidecar does, and, under the engine's prefill/decode interference, disaggregation steadies time per output token.
 */
class RoutingBenchPdTest {

  private static final RoutingBench.Scenario PD = RoutingBench.WORKLOADS.stream()
      .filter(w -> w.name().equals("pd")).findFirst().orElseThrow();
  private static final double DECODE_MS = EngineConfig.defaults().decodeNanosPerToken() / 1e6;

  private static List<RoutingBench.Row> rows;

  @BeforeAll
  static void runWithDefaults() {
    rows = RoutingBench.bench(PD, RoutingBench.Options.DEFAULTS);
  }

  private static RoutingBench.Row row(String config) {
    return rows.stream().filter(r -> r.config().equals(config)).findFirst()
        .orElseThrow(() -> new AssertionError("no row " + config + " in " + rows));
  }

  private static String table() {
    return RoutingBench.table(PD, rows);
  }

  private static final String ALWAYS = "P/D always";
  private static final String PREFIX_BASED = "P/D prefix-based (" + RoutingBench.NON_CACHED_TOKENS + ")";

  @Test
  void everyRowServesEveryRequestOverEightPods() {
    assertEquals(PD.configs().size(), rows.size());
    for (RoutingBench.Row row : rows) {
      assertEquals(RoutingBench.Options.DEFAULTS.requests(), row.requests(), table());
      assertEquals(8, row.pods().size());
    }
  }

  @Test
  void aggregatedPodsDoBothAndNothingIsPrefilledRemotely() {
    for (String config : List.of("aggregated default", "aggregated optimized")) {
      assertEquals(0, row(config).disaggregated(), table());
      assertTrue(row(config).pods().stream().allMatch(p -> p.role() == Role.BOTH && p.requests() > 0));
    }
  }

  @Test
  void prefillPodsNeverDecodeAndAlwaysDisaggregatedDecodePodsComputeOnlyTheLastPromptToken() {
    RoutingBench.Row always = row(ALWAYS);
    assertEquals(always.requests(), always.disaggregated(), table());
    for (RoutingBench.Row row : List.of(always, row(PREFIX_BASED))) {
      List<RoutingBench.PodWork> prefill = row.pods().stream().filter(p -> p.role() == Role.PREFILL).toList();
      List<RoutingBench.PodWork> decode = row.pods().stream().filter(p -> p.role() == Role.DECODE).toList();
      assertEquals(4, prefill.size());
      assertEquals(4, decode.size());
      for (RoutingBench.PodWork pod : prefill) {
        assertTrue(pod.requests() > 0, row.config() + ": " + pod);
        assertEquals(pod.requests(), pod.generationTokens(), row.config() + ": one token per prefill: " + pod);
      }
      assertEquals(row.disaggregated(), prefill.stream().mapToLong(RoutingBench.PodWork::requests).sum());
      assertEquals(row.requests(), decode.stream().mapToLong(RoutingBench.PodWork::requests).sum());
    }
    for (RoutingBench.PodWork pod : always.pods()) {
      if (pod.role() == Role.DECODE) {
        assertEquals(pod.requests(), pod.promptTokensComputed(), "one prompt token per request: " + pod);
      }
    }
  }

  @Test
  void prefixBasedDisaggregatesFewerRequestsThanAlways() {
    int prefixBased = row(PREFIX_BASED).disaggregated();
    assertTrue(prefixBased > 0 && prefixBased < row(ALWAYS).disaggregated(), table());
  }

  @Test
  void disaggregationSteadiesTimePerOutputTokenAndCostsTimeToFirstToken() {
    assertEquals(DECODE_MS, row(ALWAYS).tpotP90Ms(), 0, "decode pods never prefill, so never stall: " + table());
    for (String aggregated : List.of("aggregated default", "aggregated optimized")) {
      assertTrue(row(PREFIX_BASED).tpotP90Ms() < row(aggregated).tpotP90Ms(), table());
      assertTrue(row(aggregated).tpotP90Ms() > 1.5 * DECODE_MS, table());
      // half the pods prefill everything: the price of always disaggregating
      assertTrue(row(ALWAYS).ttftP50Ms() > row(aggregated).ttftP50Ms(), table());
    }
  }

  @Test
  void withoutInterferenceAggregatedDecodeIsAsSteadyAsDisaggregated() {
    RoutingBench.Scenario noInterference = new RoutingBench.Scenario(PD.name(), PD.defaultRate(), PD.generator(),
        PD.configs(), EngineConfig.defaults());
    RoutingBench.Options options = new RoutingBench.Options(8, 500, 0, 42, List.of(noInterference),
        RoutingBench.Options.DEFAULTS.refreshMetricsInterval());
    for (RoutingBench.Row row : RoutingBench.bench(noInterference, options)) {
      assertEquals(DECODE_MS, row.tpotP90Ms(), 0, row.config());
    }
  }

  @Test
  void aFixedSeedReproducesTheRowsExactly() {
    assertEquals(rows, RoutingBench.bench(PD, RoutingBench.Options.DEFAULTS));
  }
}
