package dev.epp.examples.simulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code routing-bench} with its defaults: reproducible, prefix affinity pays off, and stickiness does not lose. */
class RoutingBenchTest {

  @TempDir
  static Path dir;
  private static String firstOut;
  private static String firstCsv;

  @BeforeAll
  static void runWithDefaults() throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    // --out names a directory that does not exist yet
    assertEquals(0, run(out, "--out", dir.resolve("a").resolve("results").toString()));
    firstOut = out.toString(StandardCharsets.UTF_8).replace(dir.toString(), "");
    firstCsv = Files.readString(dir.resolve("a/results/routing-bench.csv"));
    for (RoutingBench.Scenario workload : RoutingBench.WORKLOADS) {
      for (String chart : workload.chartFiles()) {
        assertTrue(Files.size(dir.resolve("a/results").resolve(chart)) > 1000, chart);
      }
    }
  }

  private static int run(ByteArrayOutputStream out, String... args) {
    return RoutingBench.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
  }

  private static RoutingBench.Row row(String workload, String config) {
    for (String line : firstCsv.lines().skip(1).toList()) {
      String[] f = line.split(",");
      if (f[0].equals(workload) && f[1].equals(config)) {
        return new RoutingBench.Row(f[0], f[1], Integer.parseInt(f[2]), Double.parseDouble(f[3]),
            Double.parseDouble(f[4]), Double.parseDouble(f[5]), Double.parseDouble(f[6]), Double.parseDouble(f[7]),
            Integer.parseInt(f[8]), Double.parseDouble(f[9]), Double.parseDouble(f[10]), Integer.parseInt(f[11]),
            List.of());
      }
    }
    throw new AssertionError("no row " + workload + "/" + config + " in\n" + firstCsv);
  }

  @Test
  void aFixedSeedReproducesTheTableExactly() throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    assertEquals(0, run(out, "--seed", "42", "--out", dir.resolve("b").toString()));
    assertEquals(firstOut.replace("/a/results/", "/b/"),
        out.toString(StandardCharsets.UTF_8).replace(dir.toString(), ""));
    assertEquals(firstCsv, Files.readString(dir.resolve("b/routing-bench.csv")));
  }

  @Test
  void oneWorkloadRunsAlone() throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    assertEquals(0, run(out, "--workload", "multi-turn", "--requests", "200", "--rate", "50", "--out",
        dir.resolve("c").toString()));
    String csv = Files.readString(dir.resolve("c/routing-bench.csv"));
    assertEquals(1 + RoutingBench.ALL_CONFIGS.size(), csv.lines().count(), csv);
    assertTrue(csv.lines().skip(1).allMatch(line -> line.startsWith("multi-turn,")), csv);
    assertTrue(out.toString(StandardCharsets.UTF_8).startsWith("multi-turn: 8 pods, 200 requests at 50/s, seed 42"));
    assertTrue(Files.exists(dir.resolve("c/routing-bench-multi-turn.png")));
    assertTrue(Files.notExists(dir.resolve("c/routing-bench-shared-prefix.png")));
  }

  @Test
  void everyConfigurationServesEveryRequestOfEveryWorkload() {
    assertEquals(1 + RoutingBench.WORKLOADS.stream().mapToInt(w -> w.configs().size()).sum(), firstCsv.lines().count(),
        firstCsv);
    for (RoutingBench.Scenario workload : RoutingBench.WORKLOADS) {
      for (RoutingBench.Config config : workload.configs()) {
        assertEquals(RoutingBench.Options.DEFAULTS.requests(), row(workload.name(), config.name()).requests());
      }
    }
  }

  /** The workloads that compare {@link RoutingBench#CONFIGS}. */
  private static List<RoutingBench.Scenario> aggregatedWorkloads() {
    return RoutingBench.WORKLOADS.stream().filter(w -> w.configs().containsAll(RoutingBench.CONFIGS)).toList();
  }

  @Test
  void prefixAffinityCutsP90TtftAtLeastThreefold() {
    for (RoutingBench.Scenario workload : aggregatedWorkloads()) {
      RoutingBench.Row random = row(workload.name(), "random-picker");
      RoutingBench.Row prefix = row(workload.name(), "default (queue+kv+prefix)");
      assertTrue(prefix.ttftP90Ms() * 3 <= random.ttftP90Ms(), firstOut);
    }
  }

  @Test
  void prefixAffinityRaisesTheCacheHitRate() {
    assertTrue(row("shared-prefix", "default (queue+kv+prefix)").hitRate()
        >= 2 * row("shared-prefix", "random-picker").hitRate(), firstOut);
    assertTrue(row("multi-turn", "default (queue+kv+prefix)").hitRate()
        >= 1.3 * row("multi-turn", "random-picker").hitRate(), firstOut);
  }

  @Test
  void theOptimizedBaselineDoesNotLoseToTheDefaultOnP90Ttft() {
    for (RoutingBench.Scenario workload : aggregatedWorkloads()) {
      RoutingBench.Row defaults = row(workload.name(), "default (queue+kv+prefix)");
      RoutingBench.Row optimized = row(workload.name(), "optimized baseline");
      assertTrue(optimized.ttftP90Ms() <= defaults.ttftP90Ms(), firstOut);
    }
  }

  @Test
  void badOptionsAreOneLineAndExitTwo() {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    for (List<String> args : List.of(List.of("--pods"), List.of("--rate", "fast"), List.of("--bogus", "1"),
        List.of("--pods", "0"), List.of("--rate=-1"), List.of("--workload", "chat"), List.of("--pods", "1"))) {
      assertEquals(2, RoutingBench.run(args.toArray(String[]::new), System.out,
          new PrintStream(err, true, StandardCharsets.UTF_8)));
    }
    assertEquals(List.of(
        "routing-bench: flag --pods needs a value",
        "routing-bench: invalid value \"fast\" for --rate: not a number",
        "routing-bench: unknown flag --bogus",
        "routing-bench: invalid value \"0\" for --pods: not in 1..2147483647",
        "routing-bench: invalid value \"-1\" for --rate: must not be negative",
        "routing-bench: invalid value \"chat\" for --workload: expected one of shared-prefix, multi-turn, multi-turn-evict, pd, all",
        "routing-bench: --pods must be at least 2 for the pd workload (a prefill and a decode pod)"),
        err.toString(StandardCharsets.UTF_8).lines().toList());
    ByteArrayOutputStream help = new ByteArrayOutputStream();
    assertEquals(0, run(help, "--help"));
    assertTrue(help.toString(StandardCharsets.UTF_8).contains("--requests"));
    String helpText = help.toString(StandardCharsets.UTF_8);
    assertTrue(helpText.lines().anyMatch(l -> l.matches("  --out string .*\\(default \\.\\)")), helpText);
  }
}
