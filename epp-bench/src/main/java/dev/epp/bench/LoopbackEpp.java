package dev.epp.bench;

import com.google.protobuf.ByteString;
import dev.epp.api.MetricsRecorder;
import dev.epp.extproc.ExtProcService;
import dev.epp.metrics.export.EppMetrics;
import dev.epp.metrics.export.MetricsRegistry;
import dev.epp.scheduler.Director;
import io.envoyproxy.envoy.config.core.v3.HeaderMap;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.service.ext_proc.v3.BodyResponse;
import io.envoyproxy.envoy.service.ext_proc.v3.ExternalProcessorGrpc;
import io.envoyproxy.envoy.service.ext_proc.v3.HeadersResponse;
import io.envoyproxy.envoy.service.ext_proc.v3.HttpBody;
import io.envoyproxy.envoy.service.ext_proc.v3.HttpHeaders;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingRequest;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingResponse;
import io.grpc.BindableService;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * An ext_proc server on loopback (the EPP with a configuration of {@link Workloads#config} over a 100-pod pool, or a
 * baseline answering the same messages with the EPP's recorded answers or with empty ones) and a client that sends
 * one full request as Envoy sends it: request headers, a chat body in chunks of at most {@value #CHUNK_BYTES} bytes,
 * response headers and a JSON response body with usage.
 */
final class LoopbackEpp implements AutoCloseable {

  /** The largest request body chunk sent, as Envoy's buffers hand them to ext_proc. */
  static final int CHUNK_BYTES = 62_000;

  private final List<ProcessingRequest> request;
  private final Server server;
  private final ManagedChannel channel;
  private final ExternalProcessorGrpc.ExternalProcessorStub stub;

  /** Starts {@code processor} ({@code epp}, {@code replay} or {@code noop}) for the small chat request. */
  LoopbackEpp(String processor) {
    this(processor, "default", Workloads.chatRequest());
  }

  /**
   * Starts {@code processor} ({@code epp}, {@code replay} or {@code noop}), the EPP with configuration {@code config},
   * for requests with {@code body}.
   */
  LoopbackEpp(String processor, String config, byte[] body) {
    request = fullRequest(body);
    BindableService service = switch (processor) {
      case "epp" -> epp(config);
      case "replay" -> new ReplayProcessor(recordedAnswers(config, request));
      case "noop" -> new NoopProcessor();
      default -> throw new IllegalArgumentException("unknown processor " + processor);
    };
    // Both sides run on their event loops, as EppServer does and as Envoy's own client does.
    server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .directExecutor()
        .addService(service)
        .build();
    try {
      server.start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    channel = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort()).usePlaintext().directExecutor().build();
    stub = ExternalProcessorGrpc.newStub(channel);
  }

  private static ExtProcService epp(String config) {
    MetricsRecorder metrics = EppMetrics.create(MetricsRegistry.create());
    Director director = Director.builder(Workloads.config(config, metrics), Workloads.pool(100)).build();
    return ExtProcService.builder(director).build();
  }

  /** Sends one full request on a new stream; completes with the number of responses when the server ends it. */
  CompletableFuture<Integer> send() {
    CompletableFuture<Integer> done = new CompletableFuture<>();
    StreamObserver<ProcessingRequest> requests = stub.process(new StreamObserver<>() {
      private int responses;

      @Override
      public void onNext(ProcessingResponse value) {
        responses++;
      }

      @Override
      public void onError(Throwable t) {
        done.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {
        done.complete(responses);
      }
    });
    request.forEach(requests::onNext);
    requests.onCompleted();
    return done;
  }

  /** Sends one request and waits for its end. */
  int roundTrip() {
    try {
      return send().get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("round trip failed", e);
    }
  }

  @Override
  public void close() throws InterruptedException {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  /**
   * A full request with {@code body} as Envoy sends it: request headers, body chunks, response headers and a JSON
   * response body with usage.
   */
  static List<ProcessingRequest> fullRequest(byte[] body) {
    HeaderMap.Builder headers = HeaderMap.newBuilder();
    Map.of(":path", "/v1/chat/completions", ":method", "POST", "content-type", "application/json",
            "content-length", Integer.toString(body.length), "x-request-id", "bench-request")
        .forEach((k, v) -> headers.addHeaders(HeaderValue.newBuilder().setKey(k).setRawValue(ByteString.copyFromUtf8(v))));
    HeaderMap.Builder responseHeaders = HeaderMap.newBuilder()
        .addHeaders(HeaderValue.newBuilder().setKey("content-type").setRawValue(ByteString.copyFromUtf8("application/json")));
    List<ProcessingRequest> messages = new ArrayList<>();
    messages.add(ProcessingRequest.newBuilder().setRequestHeaders(HttpHeaders.newBuilder().setHeaders(headers)).build());
    ByteString bytes = ByteString.copyFrom(body);
    for (int offset = 0; offset < body.length; offset += CHUNK_BYTES) {
      int end = Math.min(body.length, offset + CHUNK_BYTES);
      messages.add(ProcessingRequest.newBuilder().setRequestBody(
          HttpBody.newBuilder().setBody(bytes.substring(offset, end)).setEndOfStream(end == body.length)).build());
    }
    messages.add(ProcessingRequest.newBuilder().setResponseHeaders(HttpHeaders.newBuilder().setHeaders(responseHeaders)).build());
    messages.add(ProcessingRequest.newBuilder().setResponseBody(
        HttpBody.newBuilder().setBody(ByteString.copyFrom(Workloads.chatResponse())).setEndOfStream(true)).build());
    return List.copyOf(messages);
  }

  /** The EPP's answers to each message of {@code request}, in order. */
  private static List<List<ProcessingResponse>> recordedAnswers(String config, List<ProcessingRequest> request) {
    ExtProcService epp = epp(config);
    List<List<ProcessingResponse>> answers = new ArrayList<>();
    List<ProcessingResponse> sent = new ArrayList<>();
    StreamObserver<ProcessingRequest> stream = epp.process(new StreamObserver<>() {
      @Override
      public void onNext(ProcessingResponse value) {
        sent.add(value);
      }

      @Override
      public void onError(Throwable t) {}

      @Override
      public void onCompleted() {}
    });
    for (ProcessingRequest message : request) {
      stream.onNext(message);
      answers.add(List.copyOf(sent));
      sent.clear();
    }
    stream.onCompleted();
    epp.close();
    return answers;
  }

  /** Answers every message with the EPP's recorded answer to it: the same bytes on the wire, without the work. */
  private static final class ReplayProcessor extends ExternalProcessorGrpc.ExternalProcessorImplBase {
    private final List<List<ProcessingResponse>> answers;

    ReplayProcessor(List<List<ProcessingResponse>> answers) {
      this.answers = answers;
    }

    @Override
    public StreamObserver<ProcessingRequest> process(StreamObserver<ProcessingResponse> out) {
      return new StreamObserver<>() {
        private int received;

        @Override
        public void onNext(ProcessingRequest request) {
          answers.get(received++).forEach(out::onNext);
        }

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {
          out.onCompleted();
        }
      };
    }
  }

  /** Answers every message with an empty response of the matching kind, the floor any processor pays. */
  private static final class NoopProcessor extends ExternalProcessorGrpc.ExternalProcessorImplBase {
    @Override
    public StreamObserver<ProcessingRequest> process(StreamObserver<ProcessingResponse> out) {
      return new StreamObserver<>() {
        @Override
        public void onNext(ProcessingRequest request) {
          ProcessingResponse.Builder response = ProcessingResponse.newBuilder();
          switch (request.getRequestCase()) {
            case REQUEST_HEADERS -> { } // answered with the body, as the EPP does
            case REQUEST_BODY -> {
              if (request.getRequestBody().getEndOfStream()) {
                out.onNext(response.setRequestHeaders(HeadersResponse.getDefaultInstance()).build());
                out.onNext(ProcessingResponse.newBuilder().setRequestBody(BodyResponse.getDefaultInstance()).build());
              }
            }
            case RESPONSE_HEADERS -> out.onNext(response.setResponseHeaders(HeadersResponse.getDefaultInstance()).build());
            case RESPONSE_BODY -> out.onNext(response.setResponseBody(BodyResponse.getDefaultInstance()).build());
            default -> { }
          }
        }

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {
          out.onCompleted();
        }
      };
    }
  }
}
