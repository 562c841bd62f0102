package dev.epp.examples.simulator;

import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;

/** The {@code simulator} command: serves a {@link SimulatorServer} until the process is stopped. */
public final class SimulatorCommand {

  private static final Set<String> VALUED = Set.of("port", "model", "max-num-seqs", "kv-blocks", "block-size",
      "prefill-us-per-token", "decode-ms-per-token", "lora", "max-loras", "seed");
  private static final Set<String> SWITCHES = Set.of("echo", "random-text");

  private SimulatorCommand() {}

  /** One usage line per option, for the command list and {@code --help}. */
  public static void usage(PrintStream out) {
    EngineConfig d = EngineConfig.defaults();
    out.println("  simulator [--port 8000] [--model NAME] [--max-num-seqs " + d.maxNumSeqs() + "] [--kv-blocks "
        + d.kvBlocks() + "] [--block-size " + d.blockSize() + "]");
    out.println("            [--prefill-us-per-token " + d.prefillNanosPerToken() / 1000.0
        + "] [--decode-ms-per-token " + d.decodeNanosPerToken() / 1e6 + "] [--lora a,b] [--max-loras N]");
    out.println("            [--echo|--random-text] [--seed 0]");
    out.println("      a vLLM-compatible model server with a simulated KV cache and prefix caching (no GPU)");
  }

  /**
   * Parses {@code args} and serves until the process ends.
   *
   * @return 0 after {@code --help}, 2 for invalid options, 1 if the port cannot be bound; otherwise does not return
   */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    if (Flags.wantsHelp(args)) {
      usage(out);
      return 0;
    }
    EngineConfig config;
    SimulatorServer.TextMode mode;
    int port;
    long seed;
    try {
      Flags flags = Flags.parse(args, VALUED, SWITCHES);
      config = engineConfig(flags);
      if (flags.has("echo") && flags.has("random-text")) {
        throw new IllegalArgumentException("--echo and --random-text exclude each other");
      }
      mode = flags.has("echo") ? SimulatorServer.TextMode.ECHO : SimulatorServer.TextMode.RANDOM;
      port = flags.integer("port", 8000, 0);
      seed = flags.longValue("seed", 0);
    } catch (IllegalArgumentException e) {
      err.println("simulator: " + e.getMessage());
      return 2;
    }
    SimulatorServer server;
    try {
      server = SimulatorServer.start(config, mode, seed, new InetSocketAddress(port));
    } catch (IOException e) {
      err.println("simulator: cannot listen on port " + port + ": " + e.getMessage());
      return 1;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(server::close));
    out.printf("simulator serving %s%s on port %d: %d sequences, %d KV blocks of %d tokens, prefill %.1f us/token, "
            + "decode %.1f ms/token, %s text%n",
        config.model(), config.loras().isEmpty() ? "" : " + LoRA " + config.loras(), server.port(),
        config.maxNumSeqs(), config.kvBlocks(), config.blockSize(), config.prefillNanosPerToken() / 1000.0,
        config.decodeNanosPerToken() / 1e6, mode.name().toLowerCase(java.util.Locale.ROOT));
    try {
      new CountDownLatch(1).await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    server.close();
    return 0;
  }

  static EngineConfig engineConfig(Flags flags) {
    EngineConfig d = EngineConfig.defaults();
    List<String> loras = flags.string("lora", "").isBlank() ? List.of()
        : Arrays.stream(flags.string("lora", "").split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
    return new EngineConfig(
        flags.string("model", d.model()),
        loras,
        flags.integer("max-loras", Math.max(1, loras.size()), 1),
        flags.integer("max-num-seqs", d.maxNumSeqs(), 1),
        flags.integer("kv-blocks", d.kvBlocks(), 1),
        flags.integer("block-size", d.blockSize(), 1),
        Math.round(flags.number("prefill-us-per-token", d.prefillNanosPerToken() / 1000.0, 0) * 1000),
        Math.round(flags.number("decode-ms-per-token", d.decodeNanosPerToken() / 1e6, 0) * 1e6));
  }
}
