package dev.epp.bench;

import dev.epp.api.Endpoint;
import dev.epp.discovery.StaticDiscovery;
import dev.epp.metrics.export.EppMetrics;
import dev.epp.server.EppServer;
import io.envoyproxy.envoy.service.ext_proc.v3.ExternalProcessorGrpc;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingRequest;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingResponse;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.grpc.stub.StreamObserver;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An open-loop load test of the whole EPP server ({@link EppServer} over 100 endpoints, in a child JVM) with long
 * prompts, measuring what the EPP process costs: starts {@code --rate} requests per second for {@code --seconds}
 * (after {@code --warmup} seconds rising to that rate), each sent as Envoy sends it (request headers, then the chat body of
 * {@code --body-bytes} in chunks of {@value LoopbackEpp#CHUNK_BYTES} bytes), holds each routed request open for
 * {@code --hold-ms} (the model server's prefill and decode, during which the EPP still tracks the request), then sends
 * its response. Prints the routing latency (first message sent to the routed request's last body chunk received), the
 * child's CPU (cores, and per request) and its resident memory (peak, and at the end). ext_proc runs over TLS with
 * the server's self-signed certificate, as by default, unless {@code --tls false}, over {@code --connections}
 * HTTP/2 connections (default 2: Envoy opens one per worker thread, and runs a worker per core).
 *
 * <p>The endpoints' metrics are not scraped (nothing serves them), so every endpoint looks idle: this measures the
 * request path's cost, not routing quality. The child runs with {@code --xmx} (default 512m) and each
 * {@code --jvm-option}.
 *
 * <p>Run: {@code java -cp epp-bench/target/benchmarks.jar dev.epp.bench.ExtProcRateTest --body-bytes 4000000 --rate 10
 * --seconds 30 --hold-ms 10000}
 */
public final class ExtProcRateTest {

  private static final long CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux

  private ExtProcRateTest() {}

  /** Runs the test, or with {@code --serve <config>} the EPP child; see the class comment for the flags. */
  public static void main(String[] args) throws Exception {
    if (args.length == 3 && args[0].equals("--serve")) {
      serve(args[1], Boolean.parseBoolean(args[2]));
      return;
    }
    int bodyBytes = 400_000;
    int rate = 100;
    int seconds = 30;
    int warmup = 10;
    int holdMs = 0;
    String config = "default";
    String xmx = "512m";
    boolean tls = true;
    int connections = 2;
    List<String> jvmOptions = new ArrayList<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      switch (args[i]) {
        case "--body-bytes" -> bodyBytes = Integer.parseInt(args[i + 1]);
        case "--rate" -> rate = Integer.parseInt(args[i + 1]);
        case "--seconds" -> seconds = Integer.parseInt(args[i + 1]);
        case "--warmup" -> warmup = Integer.parseInt(args[i + 1]);
        case "--hold-ms" -> holdMs = Integer.parseInt(args[i + 1]);
        case "--config" -> config = args[i + 1];
        case "--xmx" -> xmx = args[i + 1];
        case "--tls" -> tls = Boolean.parseBoolean(args[i + 1]);
        case "--connections" -> connections = Integer.parseInt(args[i + 1]);
        case "--jvm-option" -> jvmOptions.add(args[i + 1]);
        default -> throw new IllegalArgumentException("unknown flag " + args[i]);
      }
    }
    String java = ProcessHandle.current().info().command().orElse("java");
    List<String> command = new ArrayList<>(List.of(java, "-Xmx" + xmx, "-XX:+ExitOnOutOfMemoryError",
        "-Dorg.slf4j.simpleLogger.defaultLogLevel=error"));
    command.addAll(jvmOptions);
    command.addAll(List.of("-cp", System.getProperty("java.class.path"), ExtProcRateTest.class.getName(), "--serve",
        config, Boolean.toString(tls)));
    Process child = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    try {
      BufferedReader lines = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
      String line;
      do { // the JVM may print lines of its own first (e.g. a flight recording starting)
        line = lines.readLine();
        if (line == null) {
          throw new IllegalStateException("the EPP exited before it listened");
        }
      } while (!line.startsWith("port "));
      int port = Integer.parseInt(line.substring("port ".length()).trim());
      List<ProcessingRequest> request = LoopbackEpp.fullRequest(Workloads.chatRequest(bodyBytes));
      NettyChannelBuilder builder = NettyChannelBuilder.forAddress("127.0.0.1", port);
      if (tls) { // the server's self-signed certificate, as Envoy is configured to accept it
        builder.sslContext(GrpcSslContexts.forClient().trustManager(InsecureTrustManagerFactory.INSTANCE).build());
      } else {
        builder.usePlaintext();
      }
      List<ManagedChannel> channels = new ArrayList<>();
      try {
        List<ExternalProcessorGrpc.ExternalProcessorStub> stubs = new ArrayList<>();
        for (int i = 0; i < connections; i++) {
          channels.add(builder.build());
          stubs.add(ExternalProcessorGrpc.newStub(channels.get(i)));
        }
        Load load = new Load(stubs, request, holdMs);
        for (int step : new int[] {10, 3, 1}) { // a cold JIT would fall behind the full rate at once
          load.run(Math.max(1, rate / step), Math.max(1, warmup / 3), null);
        }
        long pid = child.pid();
        Usage before = Usage.of(pid);
        Latencies result = new Latencies();
        load.run(rate, seconds, result);
        if (!child.isAlive()) {
          throw new IllegalStateException("the EPP exited with status " + child.exitValue());
        }
        Usage after = Usage.of(pid);
        load.awaitAll(holdMs + 30_000L);
        double cores = (after.cpuTicks - before.cpuTicks) / (double) CLOCK_TICKS_PER_SECOND
            / ((after.nanos - before.nanos) / 1e9);
        System.out.printf("%d-byte chat requests at %d/s for %d s, held %d ms, configuration %s, -Xmx%s, TLS %s%n",
            bodyBytes, rate, seconds, holdMs, config, xmx, tls);
        System.out.printf("routed %d, failed %d; routing latency p50 %.2f ms, p99 %.2f ms, max %.2f ms%n",
            result.count(), load.failed.get(), result.percentileMillis(0.50),
            result.percentileMillis(0.99), result.percentileMillis(1.0));
        System.out.printf("EPP process: %.3f cores, %.0f µs CPU per request; resident memory peak %d MiB, now %d MiB%n",
            cores, cores * 1e6 / rate, after.peakRssKib / 1024, after.rssKib / 1024);
      } finally {
        for (ManagedChannel channel : channels) {
          channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
      }
    } finally {
      if (child.isAlive()) {
        child.getOutputStream().close();
      }
      if (!child.waitFor(10, TimeUnit.SECONDS)) {
        child.destroyForcibly();
      }
    }
  }

  /**
   * The child: an EPP server over 100 endpoints, its ext_proc port over TLS (self-signed, the server's default) or
   * not; prints that port and runs until its input ends.
   */
  private static void serve(String config, boolean tls) throws Exception {
    List<Endpoint> endpoints = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      endpoints.add(Endpoint.of("pod-" + i + "-rank-0", "127.0.0.1", 1 + i));
    }
    EppServer server = EppServer.builder(Workloads.config(config, EppMetrics.create()), new StaticDiscovery(endpoints))
        .grpcPort(0)
        .healthPort(0)
        .metricsPort(0)
        .secureServing(tls)
        .refreshMetricsInterval(Duration.ofHours(1))
        .build();
    server.start();
    System.out.println("port " + server.grpcPort());
    System.out.flush();
    try {
      while (System.in.read() >= 0) {
        // until the parent closes our input
      }
    } finally {
      server.close();
    }
  }

  /** Starts requests at a fixed rate and completes each after its hold time. */
  private static final class Load {
    private final List<ExternalProcessorGrpc.ExternalProcessorStub> stubs;
    private final List<ProcessingRequest> request;
    private final int bodyMessages;
    private final int holdMs;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(task -> {
      Thread thread = new Thread(task, "responses");
      thread.setDaemon(true);
      return thread;
    });
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicLong failed = new AtomicLong();

    private int sent;

    Load(List<ExternalProcessorGrpc.ExternalProcessorStub> stubs, List<ProcessingRequest> request, int holdMs) {
      this.stubs = stubs;
      this.request = request;
      this.bodyMessages = (int) request.stream().filter(ProcessingRequest::hasRequestBody).count();
      this.holdMs = holdMs;
    }

    /** Starts {@code rate} requests per second for {@code seconds}; their routing latencies go to {@code result}. */
    void run(int rate, int seconds, Latencies result) throws InterruptedException {
      long start = System.nanoTime();
      long total = (long) rate * seconds;
      for (long i = 0; i < total; i++) {
        long due = start + i * 1_000_000_000L / rate;
        long wait = due - System.nanoTime();
        if (wait > 0) {
          TimeUnit.NANOSECONDS.sleep(wait);
        }
        send(due, result);
      }
    }

    private void send(long startNanos, Latencies result) {
      open.incrementAndGet();
      new Exchange(startNanos, result).start();
    }

    /** One request's stream: its headers and body, then, once routed and held, its response. */
    private final class Exchange implements StreamObserver<ProcessingResponse> {
      private final long startNanos;
      private final Latencies result;
      private StreamObserver<ProcessingRequest> requests;

      Exchange(long startNanos, Latencies result) {
        this.startNanos = startNanos;
        this.result = result;
      }

      synchronized void start() {
        requests = stubs.get(sent++ % stubs.size()).process(this);
        request.subList(0, 1 + bodyMessages).forEach(requests::onNext);
      }

      private synchronized void respond() {
        request.subList(1 + bodyMessages, request.size()).forEach(requests::onNext);
        requests.onCompleted();
      }

      @Override
      public void onNext(ProcessingResponse value) {
        if (value.hasRequestBody()
            && value.getRequestBody().getResponse().getBodyMutation().getStreamedResponse().getEndOfStream()) {
          if (result != null) {
            result.add(System.nanoTime() - startNanos);
          }
          timer.schedule(this::respond, holdMs, TimeUnit.MILLISECONDS);
        } else if (value.hasImmediateResponse()) {
          fail(value.getImmediateResponse().getBody().toStringUtf8());
        }
      }

      @Override
      public void onError(Throwable t) {
        fail(t.toString());
        open.decrementAndGet();
      }

      @Override
      public void onCompleted() {
        open.decrementAndGet();
      }
    }

    private void fail(String why) {
      if (failed.getAndIncrement() == 0) {
        System.err.println("first failure: " + why);
      }
    }

    /** Waits until every request ended, at most {@code millis}. */
    void awaitAll(long millis) throws InterruptedException {
      long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
      while (open.get() > 0 && System.nanoTime() < end) {
        Thread.sleep(50);
      }
      timer.shutdownNow();
    }
  }

  /** A process's CPU time and resident memory, read from {@code /proc}. */
  private record Usage(long nanos, long cpuTicks, long rssKib, long peakRssKib) {
    static Usage of(long pid) throws IOException {
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      long ticks = Long.parseLong(fields[11]) + Long.parseLong(fields[12]); // utime, stime
      long rss = 0;
      long peak = 0;
      for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
        if (line.startsWith("VmRSS:")) {
          rss = Long.parseLong(line.replaceAll("\\D", ""));
        } else if (line.startsWith("VmHWM:")) {
          peak = Long.parseLong(line.replaceAll("\\D", ""));
        }
      }
      return new Usage(System.nanoTime(), ticks, rss, peak);
    }
  }
}
