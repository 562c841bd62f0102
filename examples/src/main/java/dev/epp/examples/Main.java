package dev.epp.examples;

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
      case "embedded" -> System.exit(EmbeddedGateway.run(rest, System.out, System.err));
      case "gateway" -> gateway(rest);
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

  /** Runs {@link GatewayCommand} until SIGTERM or SIGINT, whose shutdown hook closes the gateway. */
  private static void gateway(String[] args) {
    GatewayCommand command = new GatewayCommand(System.out, System.err);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      command.stop();
      try {
        command.awaitFinished();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "gateway-shutdown"));
    int code = command.run(args);
    if (code != 0) {
      System.exit(code);
    }
  }

  static void usage(PrintStream out) {
    out.println("usage: java -jar epp-examples.jar <command> [options]");
    out.println();
    out.println("commands:");
    out.println("  embedded [--config-file PATH] [--requests N]");
    out.println("      route requests in-process with the scheduler library over three simulated pods");
    out.println("  gateway [--port 8080] [--epp HOST:PORT] [--epp-tls] | --in-process --endpoints ... [--config-file PATH]");
    out.println("      an HTTP gateway standing in for Envoy: routes /v1/* through the EPP (gateway --help lists flags)");
    out.println("  help    show this message");
  }
}
