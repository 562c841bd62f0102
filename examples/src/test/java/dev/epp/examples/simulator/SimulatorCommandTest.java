package dev.epp.examples.simulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class SimulatorCommandTest {

  @Test
  void flagsBuildTheEngineConfig() throws Exception {
    SimulatorCommand.Options options = new SimulatorCommand.Options();
    assertTrue(options.flags.parse(new String[] {"--model", "m", "--kv-blocks=64", "--block-size", "32",
        "--prefill-us-per-token", "2.5", "--decode-ms-per-token", "4", "--lora", "a, b", "--max-num-seqs", "3",
        "--kv-transfer-us-per-token", "0.5", "--role", "decode", "--pod-name", "decode-7"}));
    assertEquals(new EngineConfig("m", List.of("a", "b"), 2, 3, 64, 32, 2_500, 4_000_000, 500), options.engineConfig());
    assertEquals(Role.DECODE, Role.parse(options.role.get()));
    assertEquals("decode-7", options.podName.get());
  }

  @Test
  void kvEventsAreOffByDefaultAndTheFlagsSayWhere() throws Exception {
    SimulatorCommand.Options defaults = new SimulatorCommand.Options();
    assertTrue(defaults.flags.parse(new String[0]));
    assertEquals(null, defaults.kvEvents());
    SimulatorCommand.Options on = new SimulatorCommand.Options();
    assertTrue(on.flags.parse(new String[] {"--kv-events"}));
    assertEquals(new SimulatorServer.KvEvents(5557, KvEventPublisher.Encoding.ARRAY), on.kvEvents());
    SimulatorCommand.Options map = new SimulatorCommand.Options();
    assertTrue(map.flags.parse(new String[] {"--kv-events", "--kv-events-port", "6000", "--kv-events-encoding",
        "map"}));
    assertEquals(new SimulatorServer.KvEvents(6000, KvEventPublisher.Encoding.MAP), map.kvEvents());
  }

  @Test
  void aBusyKvEventsPortExitsOneWithOneLine() throws Exception {
    try (java.net.ServerSocket busy = new java.net.ServerSocket(0)) {
      ByteArrayOutputStream err = new ByteArrayOutputStream();
      int exit = SimulatorCommand.run(new String[] {"--port", "0", "--kv-events", "--kv-events-port",
          Integer.toString(busy.getLocalPort())}, System.out, new PrintStream(err, true, StandardCharsets.UTF_8));
      assertEquals(1, exit);
      List<String> lines = err.toString(StandardCharsets.UTF_8).lines().toList();
      assertEquals(1, lines.size(), lines.toString());
      assertTrue(lines.get(0).startsWith("simulator: cannot bind the KV events publisher on *:" + busy.getLocalPort()
          + ": "), lines.get(0));
    }
  }

  @Test
  void defaultsAreTheEngineDefaults() throws Exception {
    SimulatorCommand.Options options = new SimulatorCommand.Options();
    assertTrue(options.flags.parse(new String[0]));
    assertEquals(EngineConfig.defaults(), options.engineConfig());
    assertEquals("random-text", options.text.get());
    assertEquals(8000, options.port.get());
    assertEquals(0L, options.seed.get());
    assertEquals("both", options.role.get());
    assertEquals("simulator", options.podName.get());
    SimulatorCommand.Options maxLoras = new SimulatorCommand.Options();
    maxLoras.flags.parse(new String[] {"--lora=a,b,c", "--max-loras", "1", "--echo"});
    assertEquals(1, maxLoras.engineConfig().maxLoras());
    assertEquals("echo", maxLoras.text.get());
  }

  @Test
  void badOptionsAreOneLineAndExitTwo() throws Exception {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream errStream = new PrintStream(err, true, StandardCharsets.UTF_8);
    for (List<String> args : List.of(List.of("--port"), List.of("--kv-blocks", "-1"), List.of("--echo",
        "--random-text"), List.of("--bogus"), List.of("positional"), List.of("--model="),
        List.of("--decode-ms-per-token", "-1"), List.of("--role", "encode"), List.of("--pod-name", " "))) {
      assertEquals(2, SimulatorCommand.run(args.toArray(String[]::new), System.out, errStream), args.toString());
    }
    assertEquals(List.of(
        "simulator: flag --port needs a value",
        "simulator: invalid value \"-1\" for --kv-blocks: not in 1..2147483647",
        "simulator: --echo and --random-text exclude each other",
        "simulator: unknown flag --bogus",
        "simulator: unexpected argument 'positional'",
        "simulator: model must not be blank",
        "simulator: invalid value \"-1\" for --decode-ms-per-token: must not be negative",
        "simulator: invalid value \"encode\" for --role: expected one of prefill, decode, both",
        "simulator: pod name must not be blank"),
        err.toString(StandardCharsets.UTF_8).lines().toList());
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    assertEquals(0, SimulatorCommand.run(new String[] {"--help"}, new PrintStream(out, true, StandardCharsets.UTF_8),
        errStream));
    assertTrue(out.toString(StandardCharsets.UTF_8).contains("--kv-blocks"));
  }
}
