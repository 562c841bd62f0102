package dev.epp.examples;

import dev.epp.examples.gateway.EndpointPicker;
import dev.epp.examples.simulator.SimulatedPods;
import dev.epp.server.EppServer;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * The {@code startup-time} command: starts {@code java -jar epp-examples.jar server} as a child process over three
 * simulated model servers (listed in an endpoints file) several times, and reports how long each start took until the
 * gRPC health service answered {@code SERVING} for every readiness name, and until the first ext_proc exchange was
 * answered with a destination. With {@code --compare-jvm-args}, runs alternate between two JVM command lines. The
 * server runs from this command's jar, another ({@code --jar}) or a class path ({@code --class-path}).
 *
 * <p>Times are measured from just before the child process is started; the child is stopped with SIGTERM after each
 * run (so that {@code -XX:ArchiveClassesAtExit} in {@code --jvm-args} writes its archive).
 */
final class StartupTime {

  private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
  private static final Duration POLL = Duration.ofMillis(5);
  private static final Pattern JVM_LOG = Pattern.compile("\\[\\d+\\.\\d+s]");

  private StartupTime() {}

  /** One start: milliseconds from process start to ready and to the first routed request. */
  record Run(double readyMillis, double routedMillis) {}

  /** Runs the command; returns 0, 2 for a bad command line, 1 when a start failed. */
  static int run(String[] args, PrintStream out, PrintStream err) {
    Cli flags = new Cli("java -jar epp-examples.jar startup-time [flags]", """
        Starts 'java -jar epp-examples.jar server' as a child process over three simulated model servers, --runs
        times, and prints the time from process start to ready (the gRPC health service SERVING for every readiness
        name) and to the first ext_proc request answered with a destination: each run, then median, min and max.""");
    Cli.Flag<Integer> runs = flags.integer("runs", 5, 1, 1000, "starts per JVM command line");
    Cli.Flag<Integer> requests = flags.integer("requests", 1, 1, 100_000,
        "ext_proc requests routed per start, the first one timed");
    Cli.Flag<String> jar = flags.string("jar", "", "the server's jar; empty: the jar this command runs from");
    Cli.Flag<String> classPath = flags.string("class-path", "",
        "run the server with this class path (java -cp ... " + Main.class.getName() + " server) instead of a jar");
    Cli.Flag<List<String>> jvmArgs = flags.list("jvm-args", "the child JVM's options, e.g. -XX:SharedArchiveFile=F");
    Cli.Flag<List<String>> compareJvmArgs = flags.list("compare-jvm-args",
        "a second set of JVM options; runs alternate between --jvm-args and these");
    Cli.Flag<List<String>> serverArgs = flags.list("server-args",
        "more server flags, e.g. --readiness=discovery-synced");
    Cli.Flag<Boolean> tls = flags.bool("secure-serving", true, "the server's --secure-serving (self-signed TLS)");
    Cli.Flag<Duration> timeout = flags.duration("timeout", "60s", "the longest one start may take");
    List<String> program;
    try {
      if (!flags.parse(args)) {
        flags.printHelp(out);
        return 0;
      }
      if (jar.isSet() && classPath.isSet()) {
        throw new Cli.UsageException("--jar and --class-path are mutually exclusive");
      }
      if (classPath.isSet()) {
        program = List.of("-cp", classPath.get(), Main.class.getName());
      } else {
        Path jarFile = jar.get().isEmpty() ? ownJar() : Path.of(jar.get());
        if (!Files.isRegularFile(jarFile)) {
          throw new Cli.UsageException("no jar " + jarFile + "; give --jar PATH");
        }
        program = List.of("-jar", jarFile.toString());
      }
    } catch (Cli.UsageException e) {
      err.println("startup-time: " + e.getMessage() + " (see --help)");
      return 2;
    }
    List<List<String>> variants = compareJvmArgs.isSet()
        ? List.of(jvmArgs.get(), compareJvmArgs.get()) : List.of(jvmArgs.get());
    List<List<Run>> results = new ArrayList<>();
    variants.forEach(v -> results.add(new ArrayList<>()));
    Path dir = null;
    try {
      dir = Files.createTempDirectory("epp-startup-time");
      try (SimulatedPods pods = new SimulatedPods(dir.resolve("endpoints.txt"), 0, 3, false)) {
        pods.scale(3);
        Launch launch = new Launch(program, dir, serverArgs.get(), tls.get(), requests.get(), timeout.get());
        for (int i = 0; i < runs.get(); i++) {
          for (int v = 0; v < variants.size(); v++) {
            Run run = launch.start(variants.get(v), pods);
            results.get(v).add(run);
            out.printf("%s run %d: ready %.0f ms, first routed %.0f ms%n", label(variants, v), i + 1,
                run.readyMillis(), run.routedMillis());
          }
        }
      }
    } catch (IOException | IllegalStateException e) {
      err.println("startup-time: " + ServerCommand.oneLine(e.getMessage()));
      return 1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      err.println("startup-time: interrupted");
      return 1;
    } finally {
      deleteQuietly(dir);
    }
    for (int v = 0; v < variants.size(); v++) {
      List<Run> list = results.get(v);
      out.printf("%s (%d runs): ready %s; first routed %s%n", label(variants, v), list.size(),
          summary(list.stream().mapToDouble(Run::readyMillis).sorted().toArray()),
          summary(list.stream().mapToDouble(Run::routedMillis).sorted().toArray()));
    }
    return 0;
  }

  private static String label(List<List<String>> variants, int v) {
    List<String> args = variants.get(v);
    return args.isEmpty() ? "[no JVM options]" : String.valueOf(args);
  }

  private static String summary(double[] sorted) {
    int n = sorted.length;
    double median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    return String.format("median %.0f ms, min %.0f ms, max %.0f ms", median, sorted[0], sorted[n - 1]);
  }

  private static Path ownJar() throws Cli.UsageException {
    try {
      return Path.of(StartupTime.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    } catch (URISyntaxException | SecurityException | NullPointerException e) {
      throw new Cli.UsageException("cannot tell which jar this command runs from; give --jar PATH");
    }
  }

  /** How to start the server and what to ask it. */
  private record Launch(List<String> program, Path dir, List<String> serverArgs, boolean tls, int requests,
      Duration timeout) {

    /**
     * One start of the server with {@code jvmArgs}, stopped again before returning; started again (up to three times)
     * if one of the free ports it was given was taken by another process meanwhile.
     */
    Run start(List<String> jvmArgs, SimulatedPods pods) throws IOException, InterruptedException {
      for (int attempt = 1; ; attempt++) {
        try {
          return start(jvmArgs, pods, freePorts());
        } catch (PortTaken e) {
          if (attempt == 3) {
            throw new IllegalStateException(e.getMessage());
          }
        }
      }
    }

    private Run start(List<String> jvmArgs, SimulatedPods pods, int[] ports) throws IOException, InterruptedException {
      int grpc = ports[0];
      int health = ports[1];
      int metrics = ports[2];
      List<String> command = new ArrayList<>();
      command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
      command.addAll(jvmArgs);
      command.addAll(program);
      command.addAll(List.of("server", "--endpoints-file", dir.resolve("endpoints.txt")
              .toString(), "--grpc-port", String.valueOf(grpc), "--grpc-health-port", String.valueOf(health),
          "--metrics-port", String.valueOf(metrics), "--secure-serving=" + tls));
      command.addAll(serverArgs);
      Path log = dir.resolve("server.log");
      ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
      long deadline = System.nanoTime() + timeout.toNanos();
      long started = System.nanoTime();
      Process process = builder.start();
      try {
        awaitListening(process, health, deadline, log);
        awaitReady(process, health, deadline, log);
        long ready = System.nanoTime();
        long routed = route(process, grpc, pods, deadline, log);
        return new Run((ready - started) / 1e6, (routed - started) / 1e6);
      } finally {
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
          process.destroyForcibly().waitFor();
        }
      }
    }

    private void awaitListening(Process process, int port, long deadline, Path log) throws InterruptedException {
      while (true) {
        try (Socket socket = new Socket()) {
          socket.connect(new InetSocketAddress(LOOPBACK, port), 1000);
          return;
        } catch (IOException e) {
          pause(process, deadline, log, "the health port " + port + " did not open");
        }
      }
    }

    private void awaitReady(Process process, int port, long deadline, Path log) throws InterruptedException {
      ManagedChannel channel = NettyChannelBuilder.forAddress(new InetSocketAddress(LOOPBACK, port)).usePlaintext()
          .build();
      try {
        HealthGrpc.HealthBlockingStub stub = HealthGrpc.newBlockingStub(channel);
        for (String service : EppServer.HEALTH_SERVICES) {
          while (!serving(stub, service)) {
            pause(process, deadline, log, "health service '" + service + "' did not report SERVING");
          }
        }
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }

    private static boolean serving(HealthGrpc.HealthBlockingStub stub, String service) {
      try {
        return stub.withDeadlineAfter(5, TimeUnit.SECONDS)
            .check(HealthCheckRequest.newBuilder().setService(service).build())
            .getStatus() == ServingStatus.SERVING;
      } catch (StatusRuntimeException e) {
        return false;
      }
    }

    /** Routes {@link #requests} requests; returns when the first was answered with a destination. */
    private long route(Process process, int port, SimulatedPods pods, long deadline, Path log)
        throws InterruptedException, IOException {
      Map<String, String> headers = Map.of(":method", "POST", ":path", "/v1/completions", ":scheme", "http",
          ":authority", "localhost", "content-type", "application/json");
      byte[] body = ("{\"model\":\"" + SimulatedPods.model() + "\",\"prompt\":\"startup\",\"max_tokens\":1}")
          .getBytes(StandardCharsets.UTF_8);
      long first = 0;
      try (EndpointPicker picker = EndpointPicker.extProc(LOOPBACK.getHostAddress() + ":" + port, tls,
          Duration.ofSeconds(10))) {
        for (int i = 0; i < requests; ) {
          try (EndpointPicker.Exchange exchange = picker.open(chunk -> { })) {
            EndpointPicker.Decision decision = exchange.route(headers, body);
            if (decision instanceof EndpointPicker.Forward forward) {
              if (i == 0) {
                first = System.nanoTime();
              }
              String served = forward.endpoints().get(0);
              if (pods.pods().stream().noneMatch(pod -> pod.hostPort().equals(served))) {
                throw new IllegalStateException("the server routed to " + served + ", not a simulated pod");
              }
              i++;
              continue;
            }
          } catch (EndpointPicker.PickerException e) {
            // not routed yet: try again
          }
          pause(process, deadline, log, "no ext_proc request was routed");
        }
      }
      return first;
    }

    /** Sleeps a little; fails if the server exited or the deadline passed. */
    private static void pause(Process process, long deadline, Path log, String failure) throws InterruptedException {
      if (!process.isAlive()) {
        String message = "the server exited with " + process.exitValue() + ": " + tail(log);
        throw message.contains("cannot listen") ? new PortTaken(message) : new IllegalStateException(message);
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(failure + " in time: " + tail(log));
      }
      Thread.sleep(POLL.toMillis());
    }
  }

  /** A start failed because another process took one of its ports after they were found free. */
  private static final class PortTaken extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    PortTaken(String message) {
      super(message);
    }
  }

  /** The server's last three lines, without the JVM's own log lines ({@code [1.234s][warning][cds] ...}). */
  private static String tail(Path log) {
    try {
      List<String> lines = Files.readAllLines(log).stream().filter(line -> !JVM_LOG.matcher(line).lookingAt()).toList();
      return String.join(" | ", lines.subList(Math.max(0, lines.size() - 3), lines.size()));
    } catch (IOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
  }

  /** Three different ports free at the moment. */
  private static int[] freePorts() throws IOException {
    try (ServerSocket a = new ServerSocket(0); ServerSocket b = new ServerSocket(0);
        ServerSocket c = new ServerSocket(0)) {
      return new int[] {a.getLocalPort(), b.getLocalPort(), c.getLocalPort()};
    }
  }

  private static void deleteQuietly(Path dir) {
    if (dir == null) {
      return;
    }
    try (var files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // a temporary directory left behind
    }
  }
}
