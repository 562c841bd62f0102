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

/** {@code routing-bench} with its defaults: reproducible, and prefix affinity pays off. */
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
    assertTrue(Files.size(dir.resolve("a/results/routing-bench.png")) > 1000);
  }

  private static int run(ByteArrayOutputStream out, String... args) {
    return RoutingBench.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
  }

  private static RoutingBench.Row row(String config) {
    for (String line : firstCsv.lines().skip(1).toList()) {
      String[] f = line.split(",");
      if (f[0].equals(config)) {
        return new RoutingBench.Row(f[0], Integer.parseInt(f[1]), Double.parseDouble(f[2]), Double.parseDouble(f[3]),
            Double.parseDouble(f[4]), Double.parseDouble(f[5]), Double.parseDouble(f[6]), Integer.parseInt(f[7]));
      }
    }
    throw new AssertionError("no row " + config + " in\n" + firstCsv);
  }

  @Test
  void aFixedSeedReproducesTheTableExactly() throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    assertEquals(0, run(out, "--seed", "42", "--out", dir.resolve("b").toString()));
    assertEquals(firstOut.replace("/a/results/", "/b/"),
        out.toString(StandardCharsets.UTF_8).replace(dir.toString(), ""));
    assertEquals(firstCsv, Files.readString(dir.resolve("b/routing-bench.csv")));
    assertTrue(Files.size(dir.resolve("b/routing-bench.png")) > 1000);
  }

  @Test
  void everyConfigurationServesEveryRequest() {
    assertEquals(5, firstCsv.lines().count(), firstCsv);
    for (RoutingBench.Config config : RoutingBench.CONFIGS) {
      assertEquals(RoutingBench.Options.DEFAULTS.requests(), row(config.name()).requests());
    }
  }

  @Test
  void prefixAffinityCutsP90TtftAtLeastThreefold() {
    RoutingBench.Row random = row("random-picker");
    RoutingBench.Row prefix = row("default (queue+kv+prefix)");
    assertTrue(prefix.ttftP90Ms() * 3 <= random.ttftP90Ms(), firstOut);
  }

  @Test
  void prefixAffinityAtLeastDoublesTheCacheHitRate() {
    RoutingBench.Row random = row("random-picker");
    RoutingBench.Row prefix = row("default (queue+kv+prefix)");
    assertTrue(prefix.hitRate() >= 2 * random.hitRate(), firstOut);
  }

  @Test
  void badOptionsAreOneLineAndExitTwo() {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    for (List<String> args : List.of(List.of("--pods"), List.of("--rate", "fast"), List.of("--bogus", "1"),
        List.of("--pods", "0"), List.of("--rate=0"))) {
      assertEquals(2, RoutingBench.run(args.toArray(String[]::new), System.out,
          new PrintStream(err, true, StandardCharsets.UTF_8)));
    }
    assertEquals(List.of(
        "routing-bench: flag --pods needs a value",
        "routing-bench: invalid value \"fast\" for --rate: not a number",
        "routing-bench: unknown flag --bogus",
        "routing-bench: invalid value \"0\" for --pods: not in 1..2147483647",
        "routing-bench: invalid value \"0\" for --rate: must be positive"),
        err.toString(StandardCharsets.UTF_8).lines().toList());
    ByteArrayOutputStream help = new ByteArrayOutputStream();
    assertEquals(0, run(help, "--help"));
    assertTrue(help.toString(StandardCharsets.UTF_8).contains("--requests"));
    String helpText = help.toString(StandardCharsets.UTF_8);
    assertTrue(helpText.lines().anyMatch(l -> l.matches("  --out string .*\\(default \\.\\)")), helpText);
  }
}
