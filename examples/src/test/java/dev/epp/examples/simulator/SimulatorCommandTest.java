package dev.epp.examples.simulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SimulatorCommandTest {

  @Test
  void flagsBuildTheEngineConfig() {
    EngineConfig config = SimulatorCommand.engineConfig(Flags.parse(new String[] {"--model", "m", "--kv-blocks=64",
        "--block-size", "32", "--prefill-us-per-token", "2.5", "--decode-ms-per-token", "4", "--lora", "a, b",
        "--max-num-seqs", "3"}, Set.of("model", "kv-blocks", "block-size", "prefill-us-per-token",
        "decode-ms-per-token", "lora", "max-num-seqs"), Set.of()));
    assertEquals(new EngineConfig("m", List.of("a", "b"), 2, 3, 64, 32, 2_500, 4_000_000), config);
  }

  @Test
  void badOptionsAreOneLineAndExitTwo() {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream errStream = new PrintStream(err, true, StandardCharsets.UTF_8);
    for (List<String> args : List.of(List.of("--port"), List.of("--kv-blocks", "-1"), List.of("--echo",
        "--random-text"), List.of("--bogus"), List.of("positional"))) {
      assertEquals(2, SimulatorCommand.run(args.toArray(String[]::new), System.out, errStream), args.toString());
    }
    List<String> lines = err.toString(StandardCharsets.UTF_8).lines().toList();
    assertEquals(5, lines.size(), lines.toString());
    assertTrue(lines.stream().allMatch(l -> l.startsWith("simulator: ")), lines.toString());
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    assertEquals(0, SimulatorCommand.run(new String[] {"--help"}, new PrintStream(out, true, StandardCharsets.UTF_8),
        errStream));
    assertTrue(out.toString(StandardCharsets.UTF_8).contains("--kv-blocks"));
  }
}
