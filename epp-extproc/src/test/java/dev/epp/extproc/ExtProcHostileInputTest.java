package dev.epp.extproc;

import static dev.epp.extproc.ExtProcHarness.HERMETIC_CONFIG;
import static dev.epp.extproc.ExtProcHarness.requestBody;
import static dev.epp.extproc.ExtProcHarness.requestHeaders;
import static dev.epp.extproc.ExtProcHarness.responseBody;
import static dev.epp.extproc.ExtProcHarness.responseHeaders;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.Endpoint;
import dev.epp.extproc.ExtProcHarness.Exchange;
import dev.epp.metrics.EppMetrics;
import dev.epp.metrics.StaticDiscovery;
import dev.epp.scheduler.EndpointPickerConfig;
import io.envoyproxy.envoy.service.ext_proc.v3.ExternalProcessorGrpc;
import io.envoyproxy.envoy.service.ext_proc.v3.HttpTrailers;
import io.envoyproxy.envoy.service.ext_proc.v3.ImmediateResponse;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingRequest;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingResponse;
import io.envoyproxy.envoy.service.ext_proc.v3.StreamedBodyResponse;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Input a hostile or broken peer sends to the ext_proc port, over real gRPC (and raw HTTP/2 where gRPC cannot
 * express it) on loopback: every case ends in a clear answer, bounded memory and a bounded log.
 */
class ExtProcHostileInputTest {

  private static final Duration DEADLINE = Duration.ofSeconds(20);
  private static final Map<String, String> COMPLETIONS = Map.of(":path", "/v1/completions");
  private static final String PREFIX = "{\"model\":\"my-model\",\"prompt\":\"";
  private static final int BUDGET = 1_000_000;

  private ExtProcHarness epp;
  private final List<AutoCloseable> resources = new ArrayList<>();

  @AfterEach
  void stop() throws Exception {
    for (int i = resources.size() - 1; i >= 0; i--) {
      resources.get(i).close();
    }
    if (epp != null) {
      epp.close();
    }
  }

  // ---- buffered bodies --------------------------------------------------------------------------------------------

  /**
   * Three streams each buffer 400,000 of a 1,000,000-byte budget: whatever the interleaving, exactly one is refused
   * (a refused stream gives its bytes back). Each round ends the other two in different ways; then a body of the
   * whole budget must be accepted again, and the next round must again refuse exactly one (so nothing was given back
   * twice either).
   */
  @Test
  void bodiesBeyondTheSharedBudgetAreRefusedAndEveryEndingGivesTheBytesBack() throws Exception {
    epp = new ExtProcHarness(HERMETIC_CONFIG,
        service -> service.maxRequestBodyBytes(BUDGET).maxBufferedBodyBytes(BUDGET));
    epp.pod(0, 0, 0.1);

    List<Exchange> survivors = fillBudgetRefusingOne(epp.open(), epp.open(), epp.open());
    survivors.get(0).cancel(); // the client resets the stream
    survivors.get(1).send(requestHeaders(COMPLETIONS, false)); // a protocol error
    assertEquals(400, immediate(survivors.get(1).await()).getStatus().getCodeValue());
    awaitWholeBudgetAccepted();

    ManagedChannel connection = epp.connect();
    survivors = fillBudgetRefusingOne(epp.open(), epp.open(), ExtProcHarness.exchangeOn(connection));
    connection.shutdownNow(); // the connection goes away under a stream (which one is refused does not matter)
    for (Exchange survivor : survivors) {
      survivor.halfClose(); // the client ends the stream without end_of_stream
    }
    awaitWholeBudgetAccepted();

    survivors = fillBudgetRefusingOne(epp.open(), epp.open(), epp.open());
    for (Exchange survivor : survivors) { // both complete: routed, with their bytes given back
      survivor.send(requestBody("\"}", true));
      assertTrue(survivor.awaitResponses(2).get(0).hasRequestHeaders(), survivor.received().toString());
      survivor.halfClose();
    }
    awaitWholeBudgetAccepted();
  }

  @Test
  void aBufferedResponseBodyBeyondTheBudgetIsRefused() throws Exception {
    epp = new ExtProcHarness(HERMETIC_CONFIG, service -> service.maxRequestBodyBytes(1000).maxBufferedBodyBytes(1000));
    epp.pod(0, 0, 0.1);
    Exchange exchange = epp.open();
    exchange.send(requestHeaders(COMPLETIONS, false));
    exchange.send(requestBody(ExtProcHarness.completion("my-model", "hi"), true));
    exchange.awaitResponses(2);
    exchange.send(responseHeaders(Map.of(":status", "200", "content-type", "application/json")));
    exchange.send(responseBody("x".repeat(600), false));
    exchange.send(responseBody("x".repeat(600), false));
    List<ProcessingResponse> responses = exchange.await();
    ImmediateResponse refused = responses.get(responses.size() - 1).getImmediateResponse();
    assertEquals(429, refused.getStatus().getCodeValue(), responses.toString());
    assertEquals("inference error: ResourceExhausted - the EPP is buffering its limit of 1000 body bytes across all "
        + "requests; retry later", refused.getBody().toStringUtf8());
  }

  /** Opens three 400,000-byte bodies; returns the two that were not refused, still open. */
  private static List<Exchange> fillBudgetRefusingOne(Exchange... exchanges) throws InterruptedException {
    for (Exchange exchange : exchanges) {
      exchange.send(requestHeaders(COMPLETIONS, false));
      exchange.send(requestBody(PREFIX + "x".repeat(400_000 - PREFIX.length()), false));
    }
    await(() -> List.of(exchanges).stream().anyMatch(e -> !e.received().isEmpty()), "one stream is refused");
    List<Exchange> survivors = new ArrayList<>();
    for (Exchange exchange : exchanges) {
      if (exchange.received().isEmpty()) {
        survivors.add(exchange);
      } else {
        ImmediateResponse refused = immediate(exchange.await());
        assertEquals(429, refused.getStatus().getCodeValue());
        assertEquals("inference error: ResourceExhausted - the EPP is buffering its limit of " + BUDGET
            + " body bytes across all requests; retry later", refused.getBody().toStringUtf8());
      }
    }
    assertEquals(2, survivors.size(), "exactly one of three is refused");
    return survivors;
  }

  /** Waits until a body as large as the whole budget is routed (streams that ended give their bytes back). */
  private void awaitWholeBudgetAccepted() throws InterruptedException {
    String body = PREFIX + "x".repeat(BUDGET - PREFIX.length() - 2) + "\"}";
    await(() -> {
      Exchange probe = epp.open();
      probe.send(requestHeaders(COMPLETIONS, false));
      probe.send(requestBody(body, true));
      ProcessingResponse first = probe.awaitResponses(1).get(0);
      probe.halfClose();
      assertTrue(first.hasRequestHeaders() || first.getImmediateResponse().getStatus().getCodeValue() == 429,
          first.toString());
      return first.hasRequestHeaders();
    }, "a body of the whole budget is accepted");
  }

  // ---- message order ----------------------------------------------------------------------------------------------

  @Test
  void requestTrailersEndTheBodyAndResponseTrailersFlushABufferedBody() {
    epp = new ExtProcHarness(HERMETIC_CONFIG);
    epp.pod(0, 0, 0.1);
    Exchange exchange = epp.open();
    exchange.send(requestHeaders(COMPLETIONS, false));
    exchange.send(requestBody(ExtProcHarness.completion("my-model", "with trailers"), false));
    exchange.send(ProcessingRequest.newBuilder().setRequestTrailers(HttpTrailers.getDefaultInstance()).build());

    List<ProcessingResponse> request = exchange.awaitResponses(3);
    assertTrue(request.get(0).hasRequestHeaders(), request.toString());
    StreamedBodyResponse body = streamed(request.get(1).getRequestBody().getResponse());
    assertEquals(ExtProcHarness.completion("my-model", "with trailers"), body.getBody().toStringUtf8());
    assertFalse(body.getEndOfStream(), "trailers follow the body");
    assertTrue(request.get(2).hasRequestTrailers(), request.toString());

    String json = "{\"object\":\"text_completion\",\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}";
    exchange.send(responseHeaders(Map.of(":status", "200", "content-type", "application/json")));
    exchange.send(responseBody(json, false));
    exchange.send(ProcessingRequest.newBuilder().setResponseTrailers(HttpTrailers.getDefaultInstance()).build());
    exchange.halfClose();
    List<ProcessingResponse> all = exchange.await();
    assertEquals(6, all.size(), all.toString());
    assertTrue(all.get(3).hasResponseHeaders(), all.toString());
    StreamedBodyResponse responseBody = streamed(all.get(4).getResponseBody().getResponse());
    assertEquals(json, responseBody.getBody().toStringUtf8());
    assertFalse(responseBody.getEndOfStream());
    assertTrue(all.get(5).hasResponseTrailers(), all.toString());
    assertTrue(epp.scrape().contains("inference_objective_output_tokens_sum{model_name=\"my-model\","
        + "target_model_name=\"my-model\"} 2"), "usage counted");
  }

  @Test
  void aStreamCarriesOneRequestAndEveryStartedRequestIsCountedOnce() {
    epp = new ExtProcHarness(HERMETIC_CONFIG);
    epp.pod(0, 0, 0.1);
    String body = ExtProcHarness.completion("my-model", "once");
    List<List<ProcessingRequest>> orders = List.of(
        List.of(requestHeaders(COMPLETIONS, false), requestBody(body, true),
            requestHeaders(COMPLETIONS, false), requestBody(body, true)),
        List.of(requestHeaders(COMPLETIONS, false), requestBody(body, true), requestBody(body, true)),
        List.of(requestBody(body, true), requestBody(body, true)),
        List.of(requestHeaders(COMPLETIONS, true), requestBody(body, true)));
    for (List<ProcessingRequest> order : orders) {
      List<ProcessingResponse> responses = epp.exchange(order);
      ImmediateResponse refused = immediate(List.of(responses.get(responses.size() - 1)));
      assertEquals(400, refused.getStatus().getCodeValue(), responses.toString());
      assertTrue(refused.getBody().toStringUtf8().startsWith("inference error: BadRequest - request "),
          refused.getBody().toStringUtf8());
    }
    String metrics = epp.scrape();
    assertTrue(metrics.contains("inference_objective_running_requests{model_name=\"my-model\"} 0"), metrics);
    assertTrue(metrics.contains("inference_objective_request_total{model_name=\"my-model\",priority=\"0\","
        + "target_model_name=\"my-model\"} 3"), metrics);
  }

  // ---- connections --------------------------------------------------------------------------------------------------

  @Test
  void idleConnectionsAreClosedButNotOnesWithAStreamInFlight() throws Exception {
    EppServer server = start(server().maxConnectionIdle(Duration.ofMillis(300)));
    ManagedChannel idle = channel(server.grpcPort());
    Exchange headerOnly = ExtProcHarness.exchangeOn(idle);
    headerOnly.send(requestHeaders(COMPLETIONS, true));
    headerOnly.awaitResponses(1);
    headerOnly.halfClose();
    headerOnly.await();
    await(() -> idle.getState(false) == ConnectivityState.IDLE, "the idle connection is closed");

    ManagedChannel busy = channel(server.grpcPort());
    Exchange longStream = ExtProcHarness.exchangeOn(busy);
    longStream.send(requestHeaders(COMPLETIONS, false));
    Thread.sleep(1500); // five idle periods with a stream open
    assertEquals(ConnectivityState.READY, busy.getState(false));
    longStream.send(requestBody(ExtProcHarness.completion("my-model", "still here"), true));
    assertFalse(longStream.awaitResponses(1).isEmpty());
    longStream.halfClose();
    longStream.await();
  }

  @Test
  void aSilentPeerIsPingedAndClosedWhenItDoesNotAnswer() throws Exception {
    EppServer server = start(server().keepAliveTime(Duration.ofMillis(200)).keepAliveTimeout(Duration.ofMillis(200)));
    try (Socket socket = new Socket("127.0.0.1", server.grpcPort())) {
      socket.setSoTimeout((int) DEADLINE.toMillis());
      OutputStream out = socket.getOutputStream();
      out.write(PREFACE);
      out.write(frame(SETTINGS, 0, 0, new byte[0]));
      DataInputStream in = new DataInputStream(socket.getInputStream());
      boolean pinged = false;
      try {
        while (true) {
          int type = readFrameType(in);
          pinged |= type == PING;
        }
      } catch (EOFException closed) {
        assertTrue(pinged, "the server pinged before closing");
      }
    }
  }

  // ---- malformed input ----------------------------------------------------------------------------------------------

  @Test
  void malformedConnectionsAndMessagesAreCountedAndLoggedInOneLine() throws Exception {
    EppServer server = start(server());
    int port = server.grpcPort();
    long before = malformedTotal(server);
    List<LogRecord> grpcRecords = Collections.synchronizedList(new ArrayList<>());
    Handler capture = new Handler() {
      @Override
      public void publish(LogRecord record) {
        if (record.getLoggerName() != null && record.getLoggerName().startsWith("io.grpc")
            && record.getLevel().intValue() >= Level.INFO.intValue()) {
          grpcRecords.add(record);
        }
      }

      @Override
      public void flush() {}

      @Override
      public void close() {}
    };
    java.util.logging.Logger root = java.util.logging.Logger.getLogger("");
    root.addHandler(capture);
    PrintStream stderr = System.err;
    ByteArrayOutputStream logged = new ByteArrayOutputStream();
    System.setErr(new PrintStream(logged, true, StandardCharsets.UTF_8));
    try {
      List<byte[]> badConnections = List.of(
          frame(SETTINGS, 0, 0, new byte[] {1, 2, 3}), // a SETTINGS frame of a length that is not a multiple of 6
          frame(HEADERS, 5, 1, new byte[] {1, 2, 3, 4, 5}), // a header block that does not decode
          frame(HEADERS, 5, 2, literalHeaders(":method", "POST", ":path", "/x")), // a stream id a client cannot use
          new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, 0, 0, 0, 0, 0, 1}, // a frame over the size limit
          frame(HEADERS, 5, 1, literalHeaders(":method", "POST", ":scheme", "http", ":authority", "epp",
              ":path", "/" + ExternalProcessorGrpc.SERVICE_NAME + "/Process", "content-type", "application/grpc",
              "te", "trailers", "Upper-Case", "x"))); // a stream with an invalid header name
      long expected = before;
      for (byte[] bad : badConnections) {
        try (Socket socket = new Socket("127.0.0.1", port)) { // open until counted: a reset would hide the error
          socket.getOutputStream().write(PREFACE);
          socket.getOutputStream().write(frame(SETTINGS, 0, 0, new byte[0]));
          socket.getOutputStream().write(bad);
          long counted = ++expected;
          await(() -> malformedTotal(server) == counted, "bad connection " + (counted - before) + " is counted");
        }
      }
      ManagedChannel channel = channel(port);
      for (int i = 0; i < 2; i++) {
        Status status = sendRawMessage(channel, new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, 1, 2, 3});
        assertEquals(Status.Code.INVALID_ARGUMENT, status.getCode(), status.toString());
        assertEquals(++expected, malformedTotal(server), "a message that is not an ext_proc message is counted");
      }
    } finally {
      System.setErr(stderr);
      root.removeHandler(capture);
    }
    assertEquals(List.of(), grpcRecords.stream().map(r -> r.getLoggerName() + ": " + r.getMessage()).toList(),
        "no grpc-java log record, so no stack trace");
    List<String> lines = logged.toString(StandardCharsets.UTF_8).lines().toList();
    assertTrue(lines.stream().filter(l -> l.contains("malformed gRPC input")).count() <= 1, lines.toString());
    assertTrue(lines.stream().noneMatch(l -> l.startsWith("\tat ") || l.startsWith("Caused by")), lines.toString());
  }

  // ---- helpers ----------------------------------------------------------------------------------------------------

  private static ImmediateResponse immediate(List<ProcessingResponse> responses) {
    assertEquals(1, responses.size(), responses.toString());
    assertTrue(responses.get(0).hasImmediateResponse(), responses.toString());
    return responses.get(0).getImmediateResponse();
  }

  private static StreamedBodyResponse streamed(io.envoyproxy.envoy.service.ext_proc.v3.CommonResponse response) {
    return response.getBodyMutation().getStreamedResponse();
  }

  private EppServer.Builder server() {
    return EppServer.builder(EndpointPickerConfig.loader().metrics(EppMetrics.create()).defaults(),
            new StaticDiscovery(List.of(Endpoint.of("vllm-rank-0", "127.0.0.1", 1))))
        .secureServing(false).grpcPort(0).healthPort(0).metricsPort(0).drainTimeout(Duration.ZERO);
  }

  private EppServer start(EppServer.Builder builder) {
    EppServer server = builder.build();
    resources.add(server);
    return server.start();
  }

  private ManagedChannel channel(int port) {
    ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
    resources.add(() -> {
      channel.shutdownNow();
      channel.awaitTermination(5, TimeUnit.SECONDS);
    });
    return channel;
  }

  private static final Pattern MALFORMED_TOTAL =
      Pattern.compile("(?m)^inference_extension_grpc_malformed_input_total (\\d+)$");

  private static long malformedTotal(EppServer server) {
    try {
      HttpResponse<String> page = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
              URI.create("http://127.0.0.1:" + server.metricsPort() + "/metrics")).timeout(DEADLINE).build(),
          HttpResponse.BodyHandlers.ofString());
      Matcher matcher = MALFORMED_TOTAL.matcher(page.body());
      return matcher.find() ? Long.parseLong(matcher.group(1)) : 0; // absent while 0
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  /** Sends {@code bytes} as one gRPC message of ext_proc's Process method and returns how the call ended. */
  private static Status sendRawMessage(ManagedChannel channel, byte[] bytes) throws Exception {
    MethodDescriptor.Marshaller<byte[]> raw = new MethodDescriptor.Marshaller<>() {
      @Override
      public InputStream stream(byte[] value) {
        return new ByteArrayInputStream(value);
      }

      @Override
      public byte[] parse(InputStream stream) {
        try {
          return stream.readAllBytes();
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }
    };
    MethodDescriptor<byte[], byte[]> method = ExternalProcessorGrpc.getProcessMethod().toBuilder(raw, raw).build();
    ClientCall<byte[], byte[]> call = channel.newCall(method, CallOptions.DEFAULT);
    CompletableFuture<Status> closed = new CompletableFuture<>();
    call.start(new ClientCall.Listener<>() {
      @Override
      public void onClose(Status status, Metadata trailers) {
        closed.complete(status);
      }
    }, new Metadata());
    call.request(1);
    call.sendMessage(bytes);
    call.halfClose();
    return closed.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
  }

  /** Re-evaluates {@code condition} until it holds, failing after {@link #DEADLINE}. */
  private static void await(BooleanSupplier condition, String what) {
    Awaitility.await(what).atMost(DEADLINE).pollInterval(Duration.ofMillis(20)).until(condition::getAsBoolean);
  }

  // ---- raw HTTP/2 ---------------------------------------------------------------------------------------------------

  private static final byte[] PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
  private static final int HEADERS = 1;
  private static final int SETTINGS = 4;
  private static final int PING = 6;

  private static byte[] frame(int type, int flags, int stream, byte[] payload) {
    ByteArrayOutputStream frame = new ByteArrayOutputStream();
    frame.write(payload.length >>> 16);
    frame.write(payload.length >>> 8);
    frame.write(payload.length);
    frame.write(type);
    frame.write(flags);
    frame.writeBytes(new byte[] {(byte) (stream >>> 24), (byte) (stream >>> 16), (byte) (stream >>> 8),
        (byte) stream});
    frame.writeBytes(payload);
    return frame.toByteArray();
  }

  /** An HPACK block of literal fields without indexing (names and values under 128 bytes, no Huffman coding). */
  private static byte[] literalHeaders(String... namesAndValues) {
    ByteArrayOutputStream block = new ByteArrayOutputStream();
    for (int i = 0; i < namesAndValues.length; i++) {
      if (i % 2 == 0) {
        block.write(0); // literal header field without indexing, new name
      }
      block.write(namesAndValues[i].length());
      block.writeBytes(namesAndValues[i].getBytes(StandardCharsets.US_ASCII));
    }
    return block.toByteArray();
  }

  /** Reads one frame and returns its type; EOF when the server closed the connection. */
  private static int readFrameType(DataInputStream in) throws IOException {
    int length = (in.readUnsignedByte() << 16) | (in.readUnsignedByte() << 8) | in.readUnsignedByte();
    int type = in.readUnsignedByte();
    in.skipNBytes(5 + length);
    return type;
  }
}
