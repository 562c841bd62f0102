package dev.epp.bench;

import com.google.protobuf.ByteString;
import dev.epp.api.MetricsRecorder;
import dev.epp.extproc.ExtProcService;
import dev.epp.metrics.export.EppMetrics;
import dev.epp.metrics.export.MetricsRegistry;
import dev.epp.scheduler.Director;
import dev.epp.scheduler.EndpointPickerConfig;
import io.envoyproxy.envoy.config.core.v3.HeaderMap;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.service.ext_proc.v3.BodyResponse;
import io.envoyproxy.envoy.service.ext_proc.v3.ExternalProcessorGrpc;
import io.envoyproxy.envoy.service.ext_proc.v3.HeadersResponse;
import io.envoyproxy.envoy.service.ext_proc.v3.HttpBody;
import io.envoyproxy.envoy.service.ext_proc.v3.HttpHeaders;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingRequest;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingRequest.RequestCase;
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
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * An ext_proc server on loopback (the EPP with the default configuration over a 100-pod pool, or a baseline answering
 * the same messages with the EPP's recorded answers or with empty ones) and a client that sends one full request:
 * request headers, a chat body, response headers and a JSON response body with usage.
 */
final class LoopbackEpp implements AutoCloseable {

  private static final List<ProcessingRequest> REQUEST = fullRequest();

  private final Server server;
  private final ManagedChannel channel;
  private final ExternalProcessorGrpc.ExternalProcessorStub stub;

  /** Starts {@code processor}: {@code epp}, {@code replay} or {@code noop}. */
  LoopbackEpp(String processor) {
    BindableService service = switch (processor) {
      case "epp" -> epp();
      case "replay" -> new ReplayProcessor(recordedAnswers());
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

  private static ExtProcService epp() {
    MetricsRecorder metrics = EppMetrics.create(MetricsRegistry.create());
    Director director =
        Director.builder(EndpointPickerConfig.loader().metrics(metrics).defaults(), Workloads.pool(100)).build();
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
    REQUEST.forEach(requests::onNext);
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

  private static List<ProcessingRequest> fullRequest() {
    HeaderMap.Builder headers = HeaderMap.newBuilder();
    Map.of(":path", "/v1/chat/completions", ":method", "POST", "content-type", "application/json",
            "x-request-id", "bench-request")
        .forEach((k, v) -> headers.addHeaders(HeaderValue.newBuilder().setKey(k).setRawValue(ByteString.copyFromUtf8(v))));
    HeaderMap.Builder responseHeaders = HeaderMap.newBuilder()
        .addHeaders(HeaderValue.newBuilder().setKey("content-type").setRawValue(ByteString.copyFromUtf8("application/json")));
    return List.of(
        ProcessingRequest.newBuilder().setRequestHeaders(HttpHeaders.newBuilder().setHeaders(headers)).build(),
        ProcessingRequest.newBuilder().setRequestBody(
            HttpBody.newBuilder().setBody(ByteString.copyFrom(Workloads.chatRequest())).setEndOfStream(true)).build(),
        ProcessingRequest.newBuilder().setResponseHeaders(HttpHeaders.newBuilder().setHeaders(responseHeaders)).build(),
        ProcessingRequest.newBuilder().setResponseBody(
            HttpBody.newBuilder().setBody(ByteString.copyFrom(Workloads.chatResponse())).setEndOfStream(true)).build());
  }

  /** The EPP's answers to {@link #REQUEST}, by the kind of message that caused them. */
  private static Map<RequestCase, List<ProcessingResponse>> recordedAnswers() {
    ExtProcService epp = epp();
    Map<RequestCase, List<ProcessingResponse>> answers = new EnumMap<>(RequestCase.class);
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
    for (ProcessingRequest request : REQUEST) {
      stream.onNext(request);
      answers.put(request.getRequestCase(), List.copyOf(sent));
      sent.clear();
    }
    stream.onCompleted();
    epp.close();
    return answers;
  }

  /** Answers every message with the EPP's recorded answer to it: the same bytes on the wire, without the work. */
  private static final class ReplayProcessor extends ExternalProcessorGrpc.ExternalProcessorImplBase {
    private final Map<RequestCase, List<ProcessingResponse>> answers;

    ReplayProcessor(Map<RequestCase, List<ProcessingResponse>> answers) {
      this.answers = answers;
    }

    @Override
    public StreamObserver<ProcessingRequest> process(StreamObserver<ProcessingResponse> out) {
      return new StreamObserver<>() {
        @Override
        public void onNext(ProcessingRequest request) {
          answers.getOrDefault(request.getRequestCase(), List.of()).forEach(out::onNext);
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
              out.onNext(response.setRequestHeaders(HeadersResponse.getDefaultInstance()).build());
              out.onNext(ProcessingResponse.newBuilder().setRequestBody(BodyResponse.getDefaultInstance()).build());
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
