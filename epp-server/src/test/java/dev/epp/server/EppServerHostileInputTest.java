package dev.epp.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.epp.api.Endpoint;
import dev.epp.discovery.StaticDiscovery;
import dev.epp.metrics.export.EppMetrics;
import dev.epp.scheduler.EndpointPickerConfig;
import io.envoyproxy.envoy.config.core.v3.HeaderMap;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.service.ext_proc.v3.ExternalProcessorGrpc;
import io.envoyproxy.envoy.service.ext_proc.v3.HttpBody;
import io.envoyproxy.envoy.service.ext_proc.v3.HttpHeaders;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingRequest;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingResponse;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
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
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
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
 * What a hostile or broken peer does to the ext_proc port's connections, over real gRPC and raw HTTP/2 on loopback:
 * idle and silent connections are closed, malformed input is counted and logged in one line.
 */
class EppServerHostileInputTest {

  private static final Duration DEADLINE = Duration.ofSeconds(20);

  private final List<AutoCloseable> resources = new ArrayList<>();

  @AfterEach
  void stop() throws Exception {
    for (int i = resources.size() - 1; i >= 0; i--) {
      resources.get(i).close();
    }
  }

  // ---- connections --------------------------------------------------------------------------------------------------

  @Test
  void idleConnectionsAreClosedButNotOnesWithAStreamInFlight() throws Exception {
    EppServer server = start(server().maxConnectionIdle(Duration.ofMillis(300)));
    ManagedChannel idle = channel(server.grpcPort());
    Exchange headerOnly = new Exchange(idle);
    headerOnly.send(requestHeaders(true));
    headerOnly.next();
    headerOnly.halfClose();
    headerOnly.awaitEnd();
    await(() -> idle.getState(false) == ConnectivityState.IDLE, "the idle connection is closed");

    ManagedChannel busy = channel(server.grpcPort());
    Exchange longStream = new Exchange(busy);
    longStream.send(requestHeaders(false));
    Thread.sleep(1500); // five idle periods with a stream open
    assertEquals(ConnectivityState.READY, busy.getState(false));
    longStream.send(ProcessingRequest.newBuilder().setRequestBody(HttpBody.newBuilder()
        .setBody(ByteString.copyFromUtf8("{\"model\":\"my-model\",\"prompt\":\"still here\"}"))
        .setEndOfStream(true)).build());
    assertTrue(longStream.next().hasRequestHeaders());
    longStream.halfClose();
    longStream.awaitEnd();
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

  private static ProcessingRequest requestHeaders(boolean endOfStream) {
    HeaderMap headers = HeaderMap.newBuilder()
        .addHeaders(HeaderValue.newBuilder().setKey(":path").setRawValue(ByteString.copyFromUtf8("/v1/completions")))
        .build();
    return ProcessingRequest.newBuilder()
        .setRequestHeaders(HttpHeaders.newBuilder().setHeaders(headers).setEndOfStream(endOfStream))
        .build();
  }

  /** One ext_proc stream: requests sent one by one, responses taken in order. */
  private static final class Exchange implements StreamObserver<ProcessingResponse> {
    private final BlockingQueue<ProcessingResponse> responses = new LinkedBlockingQueue<>();
    private final CompletableFuture<Void> ended = new CompletableFuture<>();
    private final StreamObserver<ProcessingRequest> requests;

    Exchange(ManagedChannel channel) {
      requests = ExternalProcessorGrpc.newStub(channel).process(this);
    }

    void send(ProcessingRequest request) {
      requests.onNext(request);
    }

    void halfClose() {
      requests.onCompleted();
    }

    ProcessingResponse next() throws InterruptedException {
      ProcessingResponse response = responses.poll(DEADLINE.toSeconds(), TimeUnit.SECONDS);
      assertNotNull(response, "a response within " + DEADLINE);
      return response;
    }

    void awaitEnd() throws Exception {
      ended.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
    }

    @Override
    public void onNext(ProcessingResponse response) {
      responses.add(response);
    }

    @Override
    public void onError(Throwable t) {
      ended.completeExceptionally(t);
    }

    @Override
    public void onCompleted() {
      ended.complete(null);
    }
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
