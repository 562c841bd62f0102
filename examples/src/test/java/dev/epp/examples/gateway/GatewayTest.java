package dev.epp.examples.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.Endpoint;
import dev.epp.examples.gateway.ModelServer.Received;
import dev.epp.scheduler.Director;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.scheduler.EndpointPool;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The gateway over real loopback servers: model servers on JDK HTTP servers and a real {@code ExtProcService} over
 * gRPC, or the director in process.
 */
class GatewayTest {

  private static final String COMPLETION = "{\"model\":\"m\",\"prompt\":\"hello\",\"max_tokens\":5}";

  private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  private final List<AutoCloseable> resources = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = resources.size() - 1; i >= 0; i--) {
      resources.get(i).close();
    }
  }

  private <T extends AutoCloseable> T closing(T resource) {
    resources.add(resource);
    return resource;
  }

  private ModelServer modelServer(String name) {
    return closing(new ModelServer(name));
  }

  private Gateway gateway(EndpointPicker picker, int maxBodyBytes) throws IOException {
    return closing(Gateway.builder(picker)
        .address(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
        .maxRequestBodyBytes(maxBodyBytes)
        .start());
  }

  /** A gateway talking ext_proc to {@code epp}. */
  private Gateway gateway(TestEpp epp) throws IOException {
    return gateway(EndpointPicker.extProc(epp.address(), false, Duration.ofSeconds(10)),
        Gateway.DEFAULT_MAX_REQUEST_BODY_BYTES);
  }

  private HttpResponse<String> post(Gateway gateway, String path, String body, String... headers) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(uri(gateway, path))
        .timeout(Duration.ofSeconds(20))
        .POST(BodyPublishers.ofString(body));
    if (headers.length > 0) {
      request.headers(headers);
    }
    return client.send(request.build(), BodyHandlers.ofString());
  }

  private CompletableFuture<HttpResponse<String>> postAsync(Gateway gateway) {
    return client.sendAsync(HttpRequest.newBuilder(uri(gateway, "/v1/completions"))
        .timeout(Duration.ofSeconds(60))
        .POST(BodyPublishers.ofString(COMPLETION))
        .build(), BodyHandlers.ofString());
  }

  /** Waits until {@code condition} holds, failing after a generous deadline. */
  static void awaitTrue(BooleanSupplier condition, String what) {
    Awaitility.await(what).atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(10))
        .until(condition::getAsBoolean);
  }

  private static URI uri(Gateway gateway, String path) {
    return URI.create("http://127.0.0.1:" + gateway.port() + path);
  }

  /** A loopback port nothing listens on. */
  private static int deadPort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  @Test
  void completionIsRoutedThroughTheEppAndAnswered() throws Exception {
    ModelServer busy = modelServer("busy");
    ModelServer idle = modelServer("idle");
    TestEpp epp = closing(new TestEpp());
    epp.endpoint(busy.port(), 5);
    epp.endpoint(idle.port(), 0);
    Gateway gateway = gateway(epp);

    HttpResponse<String> response = post(gateway, "/v1/completions", COMPLETION,
        "x-gateway-inference-objective", "chat", "x-gateway-destination-endpoint", "10.9.9.9:1");

    assertEquals(200, response.statusCode(), response.body());
    assertTrue(response.body().contains("\"served_by\":\"idle\""), response.body());
    assertEquals(idle.hostPort(), response.headers().firstValue("x-gateway-destination-endpoint-served").orElse(""));
    // the response headers went through the EPP's response phase
    assertEquals("true", response.headers().firstValue("x-went-into-resp-headers").orElse(""));
    assertTrue(busy.received.isEmpty());
    Received upstream = idle.received.get(0);
    assertEquals(COMPLETION, upstream.body());
    assertEquals(idle.hostPort() + "," + busy.hostPort(), upstream.headers().get("x-gateway-destination-endpoint"));
    assertFalse(upstream.headers().containsKey("x-gateway-inference-objective"), upstream.headers().toString());
    assertNotNull(upstream.headers().get("x-request-id"));
  }

  @Test
  void eventStreamIsRelayedChunkByChunk() throws Exception {
    ModelServer server = modelServer("sse");
    TestEpp epp = closing(new TestEpp());
    epp.endpoint(server.port(), 0);
    Gateway gateway = gateway(epp);

    HttpRequest request = HttpRequest.newBuilder(uri(gateway, "/v1/completions"))
        .POST(BodyPublishers.ofString("{\"model\":\"m\",\"prompt\":\"hi\",\"stream\":true}"))
        .build();
    HttpResponse<InputStream> response = client.send(request, BodyHandlers.ofInputStream());
    assertEquals(200, response.statusCode());
    assertEquals("text/event-stream", response.headers().firstValue("content-type").orElse(""));
    List<String> events = new ArrayList<>();
    try (BufferedReader lines =
        new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
      for (String line; (line = lines.readLine()) != null; ) {
        if (!line.startsWith("data: ")) {
          continue;
        }
        events.add(line);
        // the server writes the next event only now: the client saw this one before the stream went on
        if (events.size() < ModelServer.EVENTS) {
          server.release(events.size());
        }
      }
    }
    assertEquals(ModelServer.EVENTS + 1, events.size(), events.toString());
    assertTrue(events.get(0).contains("\"index\":0"), events.toString());
    assertTrue(events.get(2).contains("\"index\":2"), events.toString());
    assertEquals("data: [DONE]", events.get(3));
  }

  @Test
  void talksTlsToAnEppWithASelfSignedCertificate(@TempDir Path dir) throws Exception {
    ModelServer server = modelServer("a");
    TestEpp epp = closing(new TestEpp(TestEpp.selfSignedKeyStore(dir)));
    epp.endpoint(server.port(), 0);
    Gateway tls = gateway(EndpointPicker.extProc(epp.address(), true, Duration.ofSeconds(10)),
        Gateway.DEFAULT_MAX_REQUEST_BODY_BYTES);
    Gateway plaintext = gateway(epp);

    HttpResponse<String> response = post(tls, "/v1/completions", COMPLETION);
    HttpResponse<String> refused = post(plaintext, "/v1/completions", COMPLETION);

    assertEquals(200, response.statusCode(), response.body());
    assertTrue(response.body().contains("\"served_by\":\"a\""), response.body());
    assertEquals(503, refused.statusCode(), refused.body());
    assertTrue(refused.body().contains("the EPP may be serving TLS: connect with TLS (gateway --epp-tls)"),
        refused.body());
  }

  @Test
  void tlsToAPlaintextEppSaysSo() throws Exception {
    TestEpp epp = closing(new TestEpp());
    epp.endpoint(modelServer("a").port(), 0);
    Gateway tls = gateway(EndpointPicker.extProc(epp.address(), true, Duration.ofSeconds(10)),
        Gateway.DEFAULT_MAX_REQUEST_BODY_BYTES);

    HttpResponse<String> refused = post(tls, "/v1/completions", COMPLETION);

    assertEquals(503, refused.statusCode(), refused.body());
    assertTrue(refused.body().contains("the EPP may be serving plaintext: connect without TLS (no --epp-tls)"),
        refused.body());
  }

  @Test
  void firstRequestAfterTheEppRestartsIsRouted() throws Exception {
    ModelServer server = modelServer("a");
    TestEpp first = new TestEpp();
    first.endpoint(server.port(), 0);
    int port = first.port();
    Gateway gateway = gateway(first);
    assertEquals(200, post(gateway, "/v1/completions", COMPLETION).statusCode());

    first.close();
    // requests fail while the EPP is down, long enough for gRPC's reconnect backoff to grow past 2 s
    long downUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
    while (System.nanoTime() - downUntil < 0) {
      HttpResponse<String> refused = post(gateway, "/v1/completions", COMPLETION);
      assertEquals(503, refused.statusCode(), refused.body());
      Thread.sleep(50);
    }
    TestEpp second = closing(new TestEpp(null, port));
    second.endpoint(server.port(), 0);

    HttpResponse<String> response = post(gateway, "/v1/completions", COMPLETION);

    assertEquals(200, response.statusCode(), response.body());
    assertTrue(response.body().contains("\"served_by\":\"a\""), response.body());
  }

  @Test
  void badJsonGetsTheEppsImmediateResponse() throws Exception {
    TestEpp epp = closing(new TestEpp());
    epp.endpoint(modelServer("a").port(), 0);
    Gateway gateway = gateway(epp);

    HttpResponse<String> response = post(gateway, "/v1/completions", "{not json");

    assertEquals(400, response.statusCode());
    assertTrue(response.body().startsWith("inference error: BadRequest - "), response.body());
  }

  @Test
  void requestWithoutModelIsBadRequest() throws Exception {
    TestEpp epp = closing(new TestEpp());
    epp.endpoint(modelServer("a").port(), 0);
    Gateway gateway = gateway(epp);

    HttpResponse<String> response = post(gateway, "/v1/completions", "{\"prompt\":\"hello\"}");

    assertEquals(400, response.statusCode());
    assertEquals("inference error: BadRequest - model not found in request body", response.body());
  }

  @Test
  void emptyPoolIsServiceUnavailableFromTheEpp() throws Exception {
    Gateway gateway = gateway(closing(new TestEpp()));

    HttpResponse<String> response = post(gateway, "/v1/completions", COMPLETION);

    assertEquals(503, response.statusCode());
    assertTrue(response.body().startsWith("inference error: ServiceUnavailable - "), response.body());
  }

  @Test
  void unknownPathIsNotFound() throws Exception {
    Gateway gateway = gateway(closing(new TestEpp()));

    HttpResponse<String> response = post(gateway, "/admin", COMPLETION);

    assertEquals(404, response.statusCode());
    assertEquals("application/json", response.headers().firstValue("content-type").orElse(""));
    assertTrue(response.body().startsWith("{\"error\":{\"message\":\"no route for /admin"), response.body());
  }

  @Test
  void mountedHandlerServesItsPrefixAndV1StaysRouted() throws Exception {
    ModelServer server = modelServer("a");
    TestEpp epp = closing(new TestEpp());
    epp.endpoint(server.port(), 0);
    Gateway gateway = closing(Gateway.builder(EndpointPicker.extProc(epp.address(), false, Duration.ofSeconds(10)))
        .address(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
        .handler("/control/", http -> Gateway.error(http, 418, "teapot", http.getRequestURI().getPath()))
        .start());

    HttpResponse<String> mounted = post(gateway, "/control/x", "");
    HttpResponse<String> routed = post(gateway, "/v1/completions", COMPLETION);
    HttpResponse<String> outside = post(gateway, "/control", "");

    assertEquals(418, mounted.statusCode());
    assertEquals("{\"error\":{\"message\":\"/control/x\",\"type\":\"teapot\",\"code\":418}}", mounted.body());
    assertEquals(200, routed.statusCode(), routed.body());
    assertEquals(404, outside.statusCode());
  }

  @Test
  void handlerPrefixMustBeANamedPathOutsideV1() {
    Gateway.Builder builder =
        Gateway.builder(closing(EndpointPicker.extProc("127.0.0.1:1", false, Duration.ofSeconds(1))));
    for (String prefix : List.of("/", "control/", "/control", "/v1/admin/")) {
      assertThrows(IllegalArgumentException.class, () -> builder.handler(prefix, http -> { }), prefix);
    }
    builder.handler("/control/", http -> { });
    assertThrows(IllegalArgumentException.class, () -> builder.handler("/control/", http -> { }));
  }

  @Test
  void oversizedBodyIsRejectedWith413() throws Exception {
    ModelServer server = modelServer("a");
    TestEpp epp = closing(new TestEpp());
    epp.endpoint(server.port(), 0);
    Gateway gateway = gateway(EndpointPicker.extProc(epp.address(), false, Duration.ofSeconds(10)), 64);
    String big = "{\"model\":\"m\",\"prompt\":\"" + "x".repeat(100) + "\"}";

    HttpResponse<String> declared = post(gateway, "/v1/completions", big);
    HttpRequest chunked = HttpRequest.newBuilder(uri(gateway, "/v1/completions"))
        .POST(BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(big.getBytes(StandardCharsets.UTF_8))))
        .build();
    HttpResponse<String> streamed = client.send(chunked, BodyHandlers.ofString());

    for (HttpResponse<String> response : List.of(declared, streamed)) {
      assertEquals(413, response.statusCode());
      assertTrue(response.body().contains("request body exceeds the limit of 64 bytes"), response.body());
      assertTrue(response.body().contains("\"code\":413"), response.body());
    }
    assertTrue(server.received.isEmpty());
  }

  @Test
  void deadPrimaryFallsBackToTheNextTarget() throws Exception {
    ModelServer live = modelServer("live");
    int dead = deadPort();
    TestEpp epp = closing(new TestEpp());
    epp.endpoint(dead, 0);
    epp.endpoint(live.port(), 5);
    Gateway gateway = gateway(epp);

    HttpResponse<String> response = post(gateway, "/v1/completions", COMPLETION);

    assertEquals(200, response.statusCode(), response.body());
    assertTrue(response.body().contains("\"served_by\":\"live\""), response.body());
    assertEquals(live.hostPort(), response.headers().firstValue("x-gateway-destination-endpoint-served").orElse(""));
    assertEquals("127.0.0.1:" + dead + "," + live.hostPort(),
        live.received.get(0).headers().get("x-gateway-destination-endpoint"));
  }

  @Test
  void noReachableTargetIsBadGateway() throws Exception {
    TestEpp epp = closing(new TestEpp());
    epp.endpoint(deadPort(), 0);
    epp.endpoint(deadPort(), 1);
    Gateway gateway = gateway(epp);

    HttpResponse<String> response = post(gateway, "/v1/completions", COMPLETION);

    assertEquals(502, response.statusCode());
    assertTrue(response.body().contains("cannot connect to any endpoint"), response.body());
  }

  @Test
  void hungUpstreamGetsGatewayTimeoutAndFreesTheThreadsForHealthyOnes() throws Exception {
    SilentServer hung = closing(new SilentServer());
    ModelServer healthy = modelServer("healthy");
    TestEpp epp = closing(new TestEpp());
    epp.endpoint(hung.port(), 0);
    Gateway gateway = closing(Gateway.builder(EndpointPicker.extProc(epp.address(), false, Duration.ofSeconds(10)))
        .address(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
        .threads(2)
        .responseTimeout(Duration.ofMillis(300))
        .start());

    // both of the gateway's threads wait on the hung server...
    List<CompletableFuture<HttpResponse<String>>> toHung = List.of(postAsync(gateway), postAsync(gateway));
    awaitTrue(() -> hung.accepted() == 2, "the hung server got both requests");
    // ...while requests for a healthy server arrive
    epp.pool.remove("127.0.0.1:" + hung.port());
    epp.endpoint(healthy.port(), 0);
    List<CompletableFuture<HttpResponse<String>>> toHealthy =
        List.of(postAsync(gateway), postAsync(gateway), postAsync(gateway));

    for (CompletableFuture<HttpResponse<String>> future : toHung) {
      HttpResponse<String> response = future.get(60, TimeUnit.SECONDS);
      assertEquals(504, response.statusCode(), response.body());
      assertEquals("application/json", response.headers().firstValue("content-type").orElse(""));
      assertTrue(response.body().contains("\"type\":\"upstream_timeout\""), response.body());
      assertTrue(response.body().contains("sent no response within 300 ms"), response.body());
    }
    for (CompletableFuture<HttpResponse<String>> future : toHealthy) {
      HttpResponse<String> response = future.get(60, TimeUnit.SECONDS);
      assertEquals(200, response.statusCode(), response.body());
      assertTrue(response.body().contains("\"served_by\":\"healthy\""), response.body());
    }
    assertEquals(2, hung.accepted());
  }

  @Test
  void stalledEventStreamDropsTheClientConnection() throws Exception {
    ModelServer server = modelServer("stalls");
    TestEpp epp = closing(new TestEpp());
    epp.endpoint(server.port(), 0);
    Gateway gateway = closing(Gateway.builder(EndpointPicker.extProc(epp.address(), false, Duration.ofSeconds(10)))
        .address(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
        .responseTimeout(Duration.ofMillis(300))
        .start());

    HttpRequest request = HttpRequest.newBuilder(uri(gateway, "/v1/completions"))
        .POST(BodyPublishers.ofString("{\"model\":\"m\",\"prompt\":\"hi\",\"stream\":true}"))
        .build();
    HttpResponse<InputStream> response = client.send(request, BodyHandlers.ofInputStream());
    assertEquals(200, response.statusCode());
    List<String> lines = new ArrayList<>();
    // the server sends its first event, then waits for a release that does not come (for 10 s)
    IOException dropped = assertThrows(IOException.class, () -> {
      try (BufferedReader reader =
          new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
        for (String line; (line = reader.readLine()) != null; ) {
          lines.add(line);
        }
      }
    });
    server.release(1);
    server.release(2);
    assertNotNull(dropped);
    assertEquals(1, lines.stream().filter(l -> l.startsWith("data: ")).count(), lines.toString());
  }

  @Test
  void upstreamThatDoesNotAcceptGetsGatewayTimeout() throws Exception {
    try (ServerSocket full = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      List<Socket> queued = new ArrayList<>();
      try {
        // fill the accept queue of a server that never accepts: further connection attempts get no answer
        while (true) {
          Socket socket = new Socket();
          queued.add(socket);
          try {
            socket.connect(full.getLocalSocketAddress(), 200);
          } catch (SocketTimeoutException e) {
            break;
          }
        }
        TestEpp epp = closing(new TestEpp());
        epp.endpoint(full.getLocalPort(), 0);
        Gateway gateway = closing(Gateway.builder(EndpointPicker.extProc(epp.address(), false, Duration.ofSeconds(10)))
            .address(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
            .connectTimeout(Duration.ofMillis(200))
            .start());

        HttpResponse<String> response = post(gateway, "/v1/completions", COMPLETION);

        assertEquals(504, response.statusCode(), response.body());
        assertTrue(response.body().contains("\"type\":\"upstream_timeout\""), response.body());
        assertTrue(response.body().contains("did not accept a connection within 200 ms"), response.body());
      } finally {
        for (Socket socket : queued) {
          socket.close();
        }
      }
    }
  }

  @Test
  void unreachableEppIsServiceUnavailable() throws Exception {
    Gateway gateway = gateway(EndpointPicker.extProc("127.0.0.1:" + deadPort(), false, Duration.ofSeconds(10)),
        Gateway.DEFAULT_MAX_REQUEST_BODY_BYTES);

    HttpResponse<String> response = post(gateway, "/v1/completions", COMPLETION);

    assertEquals(503, response.statusCode());
    assertTrue(response.body().contains("\"type\":\"endpoint_picker_error\""), response.body());
    assertTrue(response.body().contains("UNAVAILABLE: io exception: "), response.body());
    assertTrue(response.body().contains("Connection refused"), response.body());
    assertTrue(response.body().contains("127.0.0.1:"), response.body());
  }

  @Test
  void bodylessRequestGoesToARandomEndpoint() throws Exception {
    ModelServer server = modelServer("only");
    TestEpp epp = closing(new TestEpp());
    epp.endpoint(server.port(), 0);
    Gateway gateway = gateway(epp);

    HttpResponse<String> response = client.send(HttpRequest.newBuilder(uri(gateway, "/health")).build(),
        BodyHandlers.ofString());

    assertEquals(200, response.statusCode());
    assertEquals("ok only", response.body());
    assertEquals("GET", server.received.get(0).method());
  }

  @Test
  void inProcessRoutesThroughTheDirector() throws Exception {
    ModelServer busy = modelServer("busy");
    ModelServer idle = modelServer("idle");
    TestEpp epp = new TestEpp(); // only for its pool and director; its gRPC server is not used
    closing(epp);
    epp.endpoint(busy.port(), 5);
    epp.endpoint(idle.port(), 0);
    Gateway gateway = gateway(EndpointPicker.inProcess(epp.director), Gateway.DEFAULT_MAX_REQUEST_BODY_BYTES);

    HttpResponse<String> response = post(gateway, "/v1/completions", COMPLETION,
        "x-gateway-inference-objective", "chat");
    HttpResponse<String> bad = post(gateway, "/v1/completions", "{\"prompt\":\"hello\"}");

    assertEquals(200, response.statusCode(), response.body());
    assertTrue(response.body().contains("\"served_by\":\"idle\""), response.body());
    assertEquals(idle.hostPort(), response.headers().firstValue("x-gateway-destination-endpoint-served").orElse(""));
    assertFalse(idle.received.get(0).headers().containsKey("x-gateway-inference-objective"));
    assertEquals(400, bad.statusCode());
    assertEquals("inference error: BadRequest - model not found in request body", bad.body());
  }

  @Test
  void inProcessFlowControlDropGivesTheClientTheDroppedReason() throws Exception {
    Director director = Director.builder(EndpointPickerConfig.parse("""
        apiVersion: llm-d.ai/v1alpha1
        kind: EndpointPickerConfig
        featureGates: [flowControl]
        flowControl:
          noEndpointRequestTTL: 50ms
        """), new EndpointPool()).build();
    AutoCloseable stopFlowControl = director::close;
    closing(stopFlowControl);
    Gateway gateway = gateway(EndpointPicker.inProcess(director), Gateway.DEFAULT_MAX_REQUEST_BODY_BYTES);

    HttpResponse<String> response = post(gateway, "/v1/completions", COMPLETION);

    assertEquals(503, response.statusCode(), response.body());
    assertEquals("rejected-no-endpoints", response.headers().firstValue("x-llm-d-request-dropped-reason").orElse(""));
    assertEquals("inference error: ServiceUnavailable - request timed out in queue and no endpoints are available",
        response.body());
  }

  @Test
  void inProcessForwardsTheEppsPrefillerHeaderToTheDecodePodAndNeverTheClients() throws Exception {
    ModelServer decode = modelServer("decode");
    ModelServer prefill = modelServer("prefill");
    EndpointPool pool = new EndpointPool();
    pool.upsert(new Endpoint("decode", "127.0.0.1", decode.port(), Map.of("llm-d.ai/role", "decode")));
    pool.upsert(new Endpoint("prefill", "127.0.0.1", prefill.port(), Map.of("llm-d.ai/role", "prefill")));
    Director director = Director.builder(EndpointPickerConfig.parse("""
        apiVersion: llm-d.ai/v1alpha1
        kind: EndpointPickerConfig
        plugins:
        - type: prefill-filter
        - type: decode-filter
        - type: always-disagg-pd-decider
        - type: disagg-profile-handler
          parameters:
            deciders:
              prefill: always-disagg-pd-decider
        schedulingProfiles:
        - name: decode
          plugins:
          - pluginRef: decode-filter
        - name: prefill
          plugins:
          - pluginRef: prefill-filter
        """), pool).build();
    Gateway gateway = gateway(EndpointPicker.inProcess(director), Gateway.DEFAULT_MAX_REQUEST_BODY_BYTES);

    HttpResponse<String> response = post(gateway, "/v1/completions", COMPLETION,
        "x-prefiller-host-port", "10.9.9.9:1", "x-encoder-hosts-ports", "10.9.9.9:2");

    assertEquals(200, response.statusCode(), response.body());
    assertTrue(prefill.received.isEmpty());
    Received upstream = decode.received.get(0);
    assertEquals(prefill.hostPort(), upstream.headers().get("x-prefiller-host-port"));
    assertFalse(upstream.headers().containsKey("x-encoder-hosts-ports"), upstream.headers().toString());
  }

  @Test
  void inProcessRelaysEventStreams() throws Exception {
    ModelServer server = modelServer("sse");
    EndpointPool pool = new EndpointPool();
    pool.upsert(Endpoint.of("sse", "127.0.0.1", server.port()));
    Gateway gateway = gateway(EndpointPicker.inProcess(
        Director.builder(EndpointPickerConfig.parse(TestEpp.CONFIG), pool).build()),
        Gateway.DEFAULT_MAX_REQUEST_BODY_BYTES);
    for (int i = 1; i < ModelServer.EVENTS; i++) {
      server.release(i);
    }

    HttpResponse<String> response = post(gateway, "/v1/completions",
        "{\"model\":\"m\",\"prompt\":\"hi\",\"stream\":true}");

    assertEquals(200, response.statusCode());
    assertEquals(ModelServer.EVENTS + 1, response.body().lines().filter(l -> l.startsWith("data: ")).count());
    assertTrue(response.body().endsWith("data: [DONE]\n\n"), response.body());
  }
}
