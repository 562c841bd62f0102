package dev.epp.examples;

import dev.epp.examples.simulator.RoutingBench;
import dev.epp.examples.simulator.SimulatorCommand;
import java.io.PrintStream;
import java.util.Arrays;

/** Entry point of {@code epp-examples.jar}: {@code java -jar epp-examples.jar <command> [options]}. */
public final class Main {

  private Main() {}

  /** Runs a command; prints usage and exits non-zero for an unknown one. */
  public static void main(String[] args) {
    String command = args.length == 0 ? "" : args[0];
    String[] rest = args.length == 0 ? args : Arrays.copyOfRange(args, 1, args.length);
    switch (command) {
      case "demo" -> untilSignal(new DemoCommand(System.out, System.err), rest);
      case "embedded" -> System.exit(EmbeddedGateway.run(rest, System.out, System.err));
      case "server" -> untilSignal(new ServerCommand(System.out, System.err, System.getenv()), rest);
      case "gateway" -> untilSignal(new GatewayCommand(System.out, System.err), rest);
      case "simulator" -> System.exit(SimulatorCommand.run(rest, System.out, System.err));
      case "routing-bench" -> System.exit(RoutingBench.run(rest, System.out, System.err));
      case "startup-time" -> System.exit(StartupTime.run(rest, System.out, System.err));
      case "help", "--help", "-h" -> usage(System.out);
      default -> {
        if (!command.isEmpty()) {
          System.err.println("unknown command '" + command + "'");
        }
        usage(System.err);
        System.exit(2);
      }
    }
  }

  /** Runs {@code command} until SIGTERM or SIGINT, whose shutdown hook stops it gracefully. */
  private static void untilSignal(LongRunningCommand<?> command, String[] args) {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      command.stop();
      try {
        command.awaitFinished();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "epp-shutdown"));
    int code = command.run(args);
    if (code != 0) {
      System.exit(code);
    }
  }

  static void usage(PrintStream out) {
    out.println("usage: java -jar epp-examples.jar <command> [options]");
    out.println();
    out.println("commands:");
    out.println("  demo [--gateway-port 8080] [--metrics-port 9090] [--replicas 3] [flags]");
    out.println("      simulated vLLM pods, the EPP and the gateway in one process; POST /demo/replicas?count=N scales");
    out.println("      the pods (demo --help lists flags)");
    out.println("  server [flags]");
    out.println("      the EPP as an Envoy ext_proc gRPC server with the Go EPP's flags (server --help lists them)");
    out.println("  gateway [--port 8080] [--epp HOST:PORT] [--epp-tls] | --in-process --endpoints ... [--config-file PATH]");
    out.println("      an HTTP gateway standing in for Envoy: routes /v1/* through the EPP (gateway --help lists flags)");
    out.println("  embedded [--config-file PATH] [--requests N]");
    out.println("      route requests in-process with the scheduler library over three simulated pods");
    SimulatorCommand.usage(out);
    RoutingBench.usage(out);
    out.println("  startup-time [--runs 5] [--jvm-args OPTS] [--compare-jvm-args OPTS]");
    out.println("      time 'server' from process start to ready and to its first routed request over simulated pods");
    out.println("  help    show this message");
  }
}
