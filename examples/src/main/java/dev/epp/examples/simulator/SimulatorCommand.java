package dev.epp.examples.simulator;

import dev.epp.examples.Cli;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/** The {@code simulator} command: serves a {@link SimulatorServer} until the process is stopped. */
public final class SimulatorCommand {

  private static final String DESCRIPTION = "A vLLM-compatible model server with a simulated KV cache and prefix "
      + "caching (no GPU).";

  /** The command's flags, defined on {@code flags}. */
  static final class Options {
    final Cli flags = new Cli("java -jar epp-examples.jar simulator [flags]", DESCRIPTION);
    private final EngineConfig d = EngineConfig.defaults();
    final Cli.Flag<Integer> port = flags.integer("port", 8000, 0, 65535, "listening port");
    final Cli.Flag<String> model = flags.string("model", d.model(), "the served base model name");
    final Cli.Flag<Integer> maxNumSeqs = flags.integer("max-num-seqs", d.maxNumSeqs(), 1, Integer.MAX_VALUE,
        "sequences running at once; more wait in a queue");
    final Cli.Flag<Integer> kvBlocks = flags.integer("kv-blocks", d.kvBlocks(), 1, Integer.MAX_VALUE,
        "KV-cache blocks");
    final Cli.Flag<Integer> blockSize = flags.integer("block-size", d.blockSize(), 1, Integer.MAX_VALUE,
        "tokens per KV-cache block");
    final Cli.Flag<Double> prefillUs = flags.number("prefill-us-per-token", d.prefillNanosPerToken() / 1000.0,
        false, "prefill time per uncached prompt token, microseconds");
    final Cli.Flag<Double> decodeMs = flags.number("decode-ms-per-token", d.decodeNanosPerToken() / 1e6, false,
        "time between output tokens, milliseconds");
    final Cli.Flag<Double> kvTransferUs = flags.number("kv-transfer-us-per-token",
        d.kvTransferNanosPerToken() / 1000.0, false,
        "time to pull one prompt token's KV from a prefill pod, microseconds (128 KiB at 25 GB/s)");
    final Cli.Flag<String> role = flags.choice("role", "both", List.of("prefill", "decode", "both"),
        "the pod's llm-d.ai/role; decode and both prefill on the pod in x-prefiller-host-port first");
    final Cli.Flag<String> podName = flags.string("pod-name", "simulator",
        "the pod name in the response headers x-simulator-prefilled-by and -decoded-by");
    final Cli.Flag<List<String>> loras = flags.list("lora", "LoRA adapters served besides the base model");
    final Cli.Flag<Integer> maxLoras = flags.integer("max-loras", 1, 1, Integer.MAX_VALUE,
        "adapters running at once; unset: the number of --lora adapters, at least 1");
    final Cli.Flag<String> text = flags.switches(List.of("echo", "random-text"), "random-text",
        "reply with the prompt echoed or with random text");
    final Cli.Flag<Long> seed = flags.int64("seed", 0, "seeds the random text");
    final Cli.Flag<Boolean> kvEvents = flags.bool("kv-events", false,
        "publish KV-cache events over ZeroMQ as vLLM does (topic kv@<pod-name>@<model>)");
    final Cli.Flag<Integer> kvEventsPort = flags.integer("kv-events-port", KV_EVENTS_PORT, 0, 65535,
        "port of the KV-cache events publisher (rank 0), bound on every interface; 0 picks a free port");
    final Cli.Flag<String> kvEventsEncoding = flags.choice("kv-events-encoding", "array", List.of("array", "map"),
        "KV event encoding: msgspec positional arrays (vLLM's default) or maps tagged under type");

    /** Where the KV-cache events go, or {@code null} without {@code --kv-events}. */
    SimulatorServer.KvEvents kvEvents() {
      return kvEvents.get() ? new SimulatorServer.KvEvents(kvEventsPort.get(),
          KvEventPublisher.Encoding.parse(kvEventsEncoding.get())) : null;
    }

    /** The engine the flags describe. */
    EngineConfig engineConfig() {
      return new EngineConfig(model.get(), loras.get(),
          maxLoras.isSet() ? maxLoras.get() : Math.max(1, loras.get().size()),
          maxNumSeqs.get(), kvBlocks.get(), blockSize.get(),
          Math.round(prefillUs.get() * 1000), Math.round(decodeMs.get() * 1e6), Math.round(kvTransferUs.get() * 1000));
    }
  }

  /** The KV events port unless {@code --kv-events-port} says otherwise: vLLM's. */
  static final int KV_EVENTS_PORT = 5557;

  private SimulatorCommand() {}

  /** The command's lines in the command list. */
  public static void usage(PrintStream out) {
    out.println("  simulator [--port 8000] [--model NAME] [--echo|--random-text] [flags]");
    out.println("      a vLLM-compatible model server with a simulated KV cache and prefix caching (no GPU)");
    out.println("      (simulator --help lists flags)");
  }

  /**
   * Parses {@code args} and serves until the process ends.
   *
   * @return 0 after {@code --help}, 2 for invalid options, 1 if the port or the KV events port cannot be bound;
   *     otherwise does not return
   */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    Options options = new Options();
    EngineConfig config;
    try {
      if (!options.flags.parse(args)) {
        options.flags.printHelp(out);
        return 0;
      }
      config = options.engineConfig();
      if (options.podName.get().isBlank()) {
        throw new IllegalArgumentException("pod name must not be blank");
      }
    } catch (Cli.UsageException | IllegalArgumentException e) {
      err.println("simulator: " + e.getMessage());
      return 2;
    }
    SimulatorServer.TextMode mode = options.text.get().equals("echo")
        ? SimulatorServer.TextMode.ECHO : SimulatorServer.TextMode.RANDOM;
    int port = options.port.get();
    long seed = options.seed.get();
    SimulatorServer server;
    try {
      server = SimulatorServer.start(config, Role.parse(options.role.get()), options.podName.get(), mode, seed,
          new InetSocketAddress(port), options.kvEvents());
    } catch (KvEventPublisher.BindException e) {
      err.println("simulator: " + e.getMessage());
      return 1;
    } catch (IOException e) {
      err.println("simulator: cannot listen on port " + port + ": " + e.getMessage());
      return 1;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(server::close));
    out.printf("simulator %s (role %s) serving %s%s on port %d: %d sequences, %d KV blocks of %d tokens, prefill %.1f us/token, "
            + "decode %.1f ms/token, %s text%n",
        options.podName.get(), options.role.get(), config.model(), config.loras().isEmpty() ? "" : " + LoRA " + config.loras(), server.port(),
        config.maxNumSeqs(), config.kvBlocks(), config.blockSize(), config.prefillNanosPerToken() / 1000.0,
        config.decodeNanosPerToken() / 1e6, mode.name().toLowerCase(java.util.Locale.ROOT));
    if (server.kvEventsPort() >= 0) {
      out.printf("simulator %s publishing KV events on tcp://*:%d, topic kv@%s@%s%n", options.podName.get(),
          server.kvEventsPort(), options.podName.get(), config.model());
    }
    try {
      new CountDownLatch(1).await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    server.close();
    return 0;
  }
}
