package dev.epp.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.sun.net.httpserver.HttpServer;
import dev.epp.api.Endpoint;
import dev.epp.server.EppServer;
import io.envoyproxy.envoy.config.core.v3.HeaderMap;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.service.ext_proc.v3.ExternalProcessorGrpc;
import io.envoyproxy.envoy.service.ext_proc.v3.HttpBody;
import io.envoyproxy.envoy.service.ext_proc.v3.HttpHeaders;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingRequest;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingResponse;
import io.grpc.ManagedChannel;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ServerCommandTest {

  private static final long DEADLINE_SECONDS = 20;

  @TempDir Path dir;
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  private ServerCommand command(Map<String, String> env) {
    return new ServerCommand(new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8), env);
  }

  private int run(String... args) {
    return command(Map.of()).run(args);
  }

  private String errorLine() {
    List<String> lines = err.toString(StandardCharsets.UTF_8).lines().toList();
    assertEquals(1, lines.size(), "one error line: " + lines);
    return lines.get(0);
  }

  @Test
  void helpListsEveryFlagWithItsGoDefault() {
    assertEquals(0, run("--help"));
    String help = out.toString(StandardCharsets.UTF_8);
    for (String flag : List.of("--pool-name string", "--pool-namespace string", "--endpoints string",
        "--endpoints-file path", "--grpc-port int", "--grpc-health-port int", "--metrics-port int",
        "--metrics-endpoint-auth", "--secure-serving", "--cert-path path", "--health-checking", "--readiness",
        "--config-file path", "--watch-config-file", "--config-text string", "--refresh-metrics-interval duration",
        "--refresh-prometheus-metrics-interval duration", "--metrics-staleness-threshold duration",
        "--model-server-metrics-scheme", "--model-server-metrics-path string", "--model-server-metrics-port int",
        "--model-server-metrics-https-insecure-skip-verify", "--max-request-body-bytes int",
        "--grpc-max-concurrent-streams int", "--drain-timeout duration", "--max-buffered-body-bytes int",
        "--grpc-max-connection-idle duration", "--grpc-keepalive-time duration", "--grpc-keepalive-timeout duration",
        "--allow-experimental-plugins", "--enable-grpc-stream-metrics", "--tracing", "--emit-endpoint-scores",
        "-h, --help")) {
      assertTrue(help.contains("  " + flag + " "), flag + " in\n" + help);
    }
    for (String line : List.of("--grpc-port int +ext_proc gRPC port \\(default 9002\\)",
        "--grpc-health-port int +.*\\(default 9003\\)", "--metrics-port int +.*\\(default 9090\\)",
        "--secure-serving +.*\\(default true\\)", "--health-checking +.*\\(default false\\)",
        "--metrics-endpoint-auth +.*\\(default false\\)", "--enable-grpc-stream-metrics +.*\\(default false\\)",
        "--pool-name string +.*\\(default \"\"\\)",
        "--emit-endpoint-scores +.*\\(default false\\)",
        "--refresh-metrics-interval duration +.*\\(default 50ms\\)",
        "--refresh-prometheus-metrics-interval duration +.*\\(default 5s\\)",
        "--metrics-staleness-threshold duration +.*\\(default 2s\\)",
        "--model-server-metrics-scheme http\\|https +.*\\(default http\\)",
        "--model-server-metrics-path string +.*\\(default /metrics\\)",
        "--model-server-metrics-port int +.*\\(default 0\\)",
        "--model-server-metrics-https-insecure-skip-verify +.*\\(default true\\)",
        "--max-request-body-bytes int +.*\\(default 16777216\\)",
        "--readiness fresh-metrics\\|discovery-synced +.*\\(default fresh-metrics\\)",
        "--drain-timeout duration +.*\\(default 30s\\)",
        "--max-buffered-body-bytes int +.*\\(default 0\\)",
        "--grpc-max-connection-idle duration +.*\\(default 5m\\)",
        "--grpc-keepalive-time duration +.*\\(default 1m\\)",
        "--grpc-keepalive-timeout duration +.*\\(default 20s\\)",
        "--watch-config-file +re-read --config-file when it changes .*\\(default false\\)",
        "--allow-experimental-plugins +.*\\(default false\\)", "--tracing +.*\\(default true\\)")) {
      assertTrue(help.lines().anyMatch(l -> l.matches("  " + line)), line + " in\n" + help);
    }
    assertEquals("", err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void poolNameWithoutAReachableClusterExitsOneWithOneLine() throws Exception {
    try (ServerSocket closed = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      String master = "https://127.0.0.1:" + closed.getLocalPort();
      closed.close();
      System.setProperty("kubernetes.master", master);
      System.setProperty("kubernetes.auth.tryKubeConfig", "false");
      System.setProperty("kubernetes.auth.tryServiceAccount", "false");
      ServerCommand command = new ServerCommand(
          new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8),
          Map.of());
      assertEquals(1, command.run(new String[] {"--pool-name", "vllm-pool", "--secure-serving=false"}));
      List<String> lines = err.toString(StandardCharsets.UTF_8).lines().toList();
      assertEquals(1, lines.size(), lines.toString());
      assertTrue(lines.get(0).startsWith("server: ") && lines.get(0).contains("127.0.0.1"), lines.get(0));
    } finally {
      System.clearProperty("kubernetes.master");
      System.clearProperty("kubernetes.auth.tryKubeConfig");
      System.clearProperty("kubernetes.auth.tryServiceAccount");
    }
  }

  @Test
  void unusableCommandLinesExitTwoWithOneLine() {
    assertUsage("server: unknown flag --nope (see --help)", "--nope");
    assertUsage("server: invalid value \"x\" for --grpc-port: not an integer (see --help)", "--grpc-port", "x");
    assertUsage("server: invalid value \"soon\" for --refresh-metrics-interval: invalid duration \"soon\" (see --help)",
        "--refresh-metrics-interval=soon");
    assertUsage("server: unexpected argument 'false' (booleans are written --flag=false) (see --help)",
        "--secure-serving", "false");
    assertUsage("server: no endpoints to route to: give --pool-name (Kubernetes InferencePool), --endpoint-selector"
        + " with --endpoint-target-ports, --endpoints ip:port,... or --endpoints-file PATH (see --help)");
    assertUsage("server: --endpoints, --endpoints-file and --endpoint-selector are mutually exclusive (see --help)",
        "--endpoints=10.0.0.1:8000", "--endpoints-file=x");
    assertUsage("server: --endpoint-selector needs --endpoint-target-ports (see --help)",
        "--endpoint-selector=app=vllm");
    assertUsage("server: invalid --endpoint-target-ports entry 'http' (see --help)",
        "--endpoint-selector=app=vllm", "--endpoint-target-ports=8000,http");
    assertUsage("server: --max-buffered-body-bytes must be at least --max-request-body-bytes (see --help)",
        "--endpoints=10.0.0.1:8000", "--max-request-body-bytes=1000", "--max-buffered-body-bytes=999");
    assertUsage("server: --config-file and --config-text are mutually exclusive (see --help)",
        "--endpoints=10.0.0.1:8000", "--config-file=x", "--config-text=y");
    assertUsage("server: --watch-config-file needs --config-file (see --help)",
        "--endpoints=10.0.0.1:8000", "--watch-config-file");
    assertUsage("server: --watch-config-file needs --config-file (see --help)",
        "--endpoints=10.0.0.1:8000", "--config-text=y", "--watch-config-file");
    assertUsage("server: invalid --endpoints entry '10.0.0.1': expected ip:port ([ipv6]:port) (see --help)",
        "--endpoints=10.0.0.1");
    assertUsage("server: invalid --endpoints entry '999.1.1.1:80': '999.1.1.1' is not an IP address: an IPv4 or IPv6"
        + " literal is required (host names are not resolved) (see --help)", "--endpoints=999.1.1.1:80");
    assertUsage("server: invalid --endpoints entry 'localhost:8000': 'localhost' is not an IP address: an IPv4 or IPv6"
        + " literal is required (host names are not resolved) (see --help)", "--endpoints=localhost:8000");
    assertUsage("server: invalid --endpoints entry '[zz::1]:80': 'zz::1' is not an IPv6 address (only IPv6 is written in"
        + " brackets) (see --help)", "--endpoints=[zz::1]:80");
    assertUsage("server: --endpoints lists 10.0.0.1:8000 twice (see --help)",
        "--endpoints=10.0.0.1:8000, 10.0.0.1:8000");
    assertUsage("server: --metrics-endpoint-auth needs the bearer token in $EPP_METRICS_TOKEN (see --help)",
        "--endpoints=10.0.0.1:8000", "--metrics-endpoint-auth");
  }

  @Test
  void endpointsAreNamedByTheirAddressAndPort() throws Exception {
    assertEquals(List.of(Endpoint.of("10.0.0.1:8000", "10.0.0.1", 8000),
            Endpoint.of("[fd00::2]:30000", "fd00::2", 30000)),
        ServerCommand.parseEndpoints("10.0.0.1:8000, [fd00::2]:30000"));
  }

  @Test
  void anInvalidConfigurationExitsOneWithOneLine() {
    assertEquals(1, run("--endpoints=127.0.0.1:8000", "--config-text", "kind: Nope\nfoo: [bar\n"));
    assertTrue(errorLine().startsWith("server: invalid configuration: --config-text"), errorLine());
  }

  @Test
  void aConfigFileThatIsNotTextExitsOneWithOneLocatedLine() throws Exception {
    Path binary = dir.resolve("epp.yaml");
    Files.write(binary, new byte[] {'k', 'i', 'n', 'd', ':', ' ', (byte) 0xff, '\n', 0, 1, 2});
    assertEquals(1, run("--endpoints=127.0.0.1:8000", "--config-file", binary.toString()));
    assertEquals("server: invalid configuration: " + binary + ":1:7: not UTF-8 text (invalid byte 0xFF at offset 6)",
        errorLine());
  }

  @Test
  void experimentalPluginTypesNeedAllowExperimentalPlugins() throws Exception {
    String config = "apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\nplugins:\n"
        + "- type: " + ExperimentalScorerFactory.TYPE + "\n";
    assertEquals(1, run("--endpoints=127.0.0.1:8000", "--config-text", config));
    assertEquals("server: invalid configuration: --config-text:4:3: plugins[0].type: plugin '"
        + ExperimentalScorerFactory.TYPE + "' (type " + ExperimentalScorerFactory.TYPE + ") is experimental (Alpha);"
        + " start the EPP with --allow-experimental-plugins to use it", errorLine());
    err.reset();
    try (ServerSocket taken = new ServerSocket()) {
      taken.bind(new InetSocketAddress(0));
      int port = taken.getLocalPort();
      assertEquals(1, run("--endpoints=127.0.0.1:8000", "--config-text", config, "--allow-experimental-plugins",
          "--secure-serving=false", "--grpc-port=0", "--grpc-health-port=0", "--metrics-port", Integer.toString(port)));
      assertEquals("server: --metrics-port " + port + ": cannot listen: Address already in use", errorLine(),
          "the configuration loaded; the start got as far as the ports");
    }
  }

  @Test
  void aPortInUseExitsOneWithOneLine() throws Exception {
    try (ServerSocket taken = new ServerSocket()) {
      taken.bind(new InetSocketAddress(0));
      int port = taken.getLocalPort();
      assertEquals(1, run("--endpoints=127.0.0.1:8000", "--secure-serving=false", "--grpc-port=0",
          "--grpc-health-port=0", "--metrics-port", Integer.toString(port)));
      String line = errorLine();
      assertEquals("server: --metrics-port " + port + ": cannot listen: Address already in use", line);
    }
  }

  @Test
  void servesHealthAndExtProcUntilStopped() throws Exception {
    HttpServer model = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    byte[] page = ("# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting 0\n"
        + "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running 1\n"
        + "# TYPE vllm:kv_cache_usage_perc gauge\nvllm:kv_cache_usage_perc 0.2\n").getBytes(StandardCharsets.UTF_8);
    model.createContext("/metrics", exchange -> {
      try (exchange) {
        exchange.sendResponseHeaders(200, page.length);
        exchange.getResponseBody().write(page);
      }
    });
    model.start();
    Path endpoints = dir.resolve("endpoints.txt");
    Files.writeString(endpoints, "vllm-0-rank-0 127.0.0.1:" + model.getAddress().getPort() + "\n");
    ServerCommand command = command(Map.of());
    CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> command.run(new String[] {
        "--secure-serving=false", "--grpc-port", "0", "--grpc-health-port=0", "--metrics-port=0",
        "--pool-name=e2e", "--endpoints-file", endpoints.toString(), "--emit-endpoint-scores"}));
    ManagedChannel health = null;
    ManagedChannel extProc = null;
    try {
      EppServer server = command.started().get(DEADLINE_SECONDS, TimeUnit.SECONDS);
      assertNotNull(server, () -> "the command did not start: " + err);
      health = NettyChannelBuilder.forAddress("127.0.0.1", server.healthPort()).usePlaintext().build();
      extProc = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort()).usePlaintext().build();

      awaitServing(health, "readiness");
      assertEquals("127.0.0.1:" + model.getAddress().getPort(), route(extProc));
      assertTrue(server.options().emitEndpointScores(), "--emit-endpoint-scores reaches the server");
    } finally {
      command.stop();
      assertEquals(0, exit.get(DEADLINE_SECONDS, TimeUnit.SECONDS));
      for (ManagedChannel channel : new ManagedChannel[] {health, extProc}) {
        if (channel != null) {
          channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
      }
      model.stop(0);
    }
  }

  @Test
  void aBadOtelVariableExitsOneWithOneLine() {
    assertEquals(1, command(Map.of("OTEL_TRACES_SAMPLER_ARG", "half")).run(new String[] {
        "--endpoints=127.0.0.1:8000", "--secure-serving=false", "--grpc-port=0", "--grpc-health-port=0",
        "--metrics-port=0"}));
    assertEquals("server: OTEL_TRACES_SAMPLER_ARG must be a number in [0, 1], got 'half'", errorLine());
  }

  @Test
  void withTracingOffTheOtelVariablesAreNotRead() throws Exception {
    ServerCommand command = command(Map.of("OTEL_TRACES_EXPORTER", "jaeger"));
    CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> command.run(new String[] {
        "--tracing=false", "--secure-serving=false", "--grpc-port=0", "--grpc-health-port=0", "--metrics-port=0",
        "--endpoints=127.0.0.1:1"}));
    try {
      assertNotNull(command.started().get(DEADLINE_SECONDS, TimeUnit.SECONDS), () -> "did not start: " + err);
    } finally {
      command.stop();
      assertEquals(0, exit.get(DEADLINE_SECONDS, TimeUnit.SECONDS));
    }
    assertEquals("", err.toString(StandardCharsets.UTF_8));
  }

  private void assertUsage(String expected, String... args) {
    out.reset();
    err.reset();
    assertEquals(2, run(args), String.join(" ", args));
    assertEquals(expected, errorLine());
  }

  /** Checks {@code service} until it is SERVING, failing after the deadline. */
  private static void awaitServing(ManagedChannel channel, String service) {
    HealthGrpc.HealthBlockingStub stub = HealthGrpc.newBlockingStub(channel);
    Awaitility.await(service + " is SERVING").atMost(Duration.ofSeconds(DEADLINE_SECONDS))
        .pollInterval(Duration.ofMillis(50)).until(() -> stub.withDeadlineAfter(5, TimeUnit.SECONDS)
            .check(HealthCheckRequest.newBuilder().setService(service).build()).getStatus() == ServingStatus.SERVING);
  }

  /** One chat request through ext_proc; the destination header of the headers response. */
  private static String route(ManagedChannel channel) throws Exception {
    BlockingQueue<Object> responses = new LinkedBlockingQueue<>();
    StreamObserver<ProcessingRequest> requests = ExternalProcessorGrpc.newStub(channel)
        .withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS)
        .process(new StreamObserver<>() {
          @Override
          public void onNext(ProcessingResponse value) {
            responses.add(value);
          }

          @Override
          public void onError(Throwable t) {
            responses.add(t);
          }

          @Override
          public void onCompleted() {}
        });
    requests.onNext(ProcessingRequest.newBuilder().setRequestHeaders(HttpHeaders.newBuilder().setHeaders(
        HeaderMap.newBuilder()
            .addHeaders(HeaderValue.newBuilder().setKey(":method").setRawValue(ByteString.copyFromUtf8("POST")))
            .addHeaders(HeaderValue.newBuilder().setKey(":path")
                .setRawValue(ByteString.copyFromUtf8("/v1/completions")))))
        .build());
    requests.onNext(ProcessingRequest.newBuilder().setRequestBody(HttpBody.newBuilder()
        .setBody(ByteString.copyFromUtf8("{\"model\":\"m\",\"prompt\":\"Hello\"}")).setEndOfStream(true))
        .build());
    Object first = responses.poll(DEADLINE_SECONDS, TimeUnit.SECONDS);
    requests.onCompleted();
    if (!(first instanceof ProcessingResponse response) || !response.hasRequestHeaders()) {
      throw new AssertionError("expected a request-headers response, got " + first);
    }
    for (HeaderValueOption option
        : response.getRequestHeaders().getResponse().getHeaderMutation().getSetHeadersList()) {
      if (option.getHeader().getKey().equals("x-gateway-destination-endpoint")) {
        return option.getHeader().getRawValue().toStringUtf8();
      }
    }
    throw new AssertionError("no destination header in " + response);
  }
}
