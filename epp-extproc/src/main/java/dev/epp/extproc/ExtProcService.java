package dev.epp.extproc;

import com.google.protobuf.ByteString;
import dev.epp.api.InferenceException;
import dev.epp.api.InferenceException.Code;
import dev.epp.api.InferenceRequest;
import dev.epp.api.MetricsRecorder;
import dev.epp.api.Ticker;
import dev.epp.api.requestcontrol.InferenceResponse;
import dev.epp.api.requestcontrol.Usage;
import dev.epp.scheduler.Director;
import dev.epp.scheduler.Routing;
import io.envoyproxy.envoy.service.ext_proc.v3.BodyResponse;
import io.envoyproxy.envoy.service.ext_proc.v3.CommonResponse;
import io.envoyproxy.envoy.service.ext_proc.v3.ExternalProcessorGrpc;
import io.envoyproxy.envoy.service.ext_proc.v3.HeaderMutation;
import io.envoyproxy.envoy.service.ext_proc.v3.HeadersResponse;
import io.envoyproxy.envoy.service.ext_proc.v3.HttpBody;
import io.envoyproxy.envoy.service.ext_proc.v3.HttpHeaders;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingRequest;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingResponse;
import io.envoyproxy.envoy.service.ext_proc.v3.TrailersResponse;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Envoy's {@code envoy.service.ext_proc.v3.ExternalProcessor/Process}, answered as the Go EPP answers it with
 * {@code FULL_DUPLEX_STREAMED} bodies.
 *
 * <p>Per stream: the request headers are held until the body ends (a header-only request is answered at once with a
 * random endpoint); then one headers response (clear route cache, {@code x-gateway-destination-endpoint} and the same
 * value in dynamic metadata {@code envoy.lb}, {@code Content-Length}, echoed headers, a generated {@code x-request-id}
 * when missing) is followed by the body in streamed chunks of at most 62,000 bytes. Response headers get
 * {@code x-went-into-resp-headers: true}; response bodies are echoed chunk by chunk for event streams and buffered to
 * the end otherwise; when the model was rewritten, the served model's name in response bodies is put back to the one
 * the client asked for (Go v1.5) and the upstream {@code Content-Length} is dropped. A request that cannot be routed gets one {@code ImmediateResponse} with body
 * {@code inference error: <Code> - <message>} and its HTTP status, and the stream ends.
 *
 * <p>Unlike the Go EPP, control headers ({@code x-gateway-inference-objective}, {@code x-gateway-model-name-rewrite},
 * {@code x-gateway-inference-fairness-id}, {@code x-gateway-destination-endpoint-subset}) and client-sent
 * {@code x-gateway-destination-endpoint[-served]} headers are removed from the upstream request, and the destination
 * header overwrites rather than appends.
 *
 * <p><b>Threading:</b> gRPC serialises each stream's callbacks; streams run concurrently.
 */
public final class ExtProcService extends ExternalProcessorGrpc.ExternalProcessorImplBase {

  private static final Logger log = LoggerFactory.getLogger(ExtProcService.class);

  /** The default request body limit, 16 MiB. */
  public static final int DEFAULT_MAX_REQUEST_BODY_BYTES = 16 << 20;

  private final Director director;
  private final MetricsRecorder metrics;
  private final Ticker ticker;
  private final int maxRequestBodyBytes;

  /**
   * A service routing through {@code director} and recording the {@code inference_objective_*} request metrics.
   *
   * @param ticker the time source for request durations
   * @param maxRequestBodyBytes the largest request body accepted; larger ones get 413
   */
  public ExtProcService(Director director, MetricsRecorder metrics, Ticker ticker, int maxRequestBodyBytes) {
    if (maxRequestBodyBytes <= 0) {
      throw new IllegalArgumentException("maxRequestBodyBytes must be positive");
    }
    this.director = Objects.requireNonNull(director, "director");
    this.metrics = Objects.requireNonNull(metrics, "metrics");
    this.ticker = Objects.requireNonNull(ticker, "ticker");
    this.maxRequestBodyBytes = maxRequestBodyBytes;
  }

  @Override
  public StreamObserver<ProcessingRequest> process(StreamObserver<ProcessingResponse> responses) {
    return new Stream(responses);
  }

  /** One HTTP request's exchange. */
  private final class Stream implements StreamObserver<ProcessingRequest> {
    private final StreamObserver<ProcessingResponse> out;
    private Map<String, String> headers = Map.of();
    private List<String> subsetHint;
    private ByteString requestBody = ByteString.EMPTY;
    private ByteString responseBody = ByteString.EMPTY;
    private Routing routing;
    private boolean closed;
    private long startNanos;
    private boolean running;
    private boolean responseRecorded;
    private long responseBytes;
    private long outputTokens;
    private String errorCode;

    Stream(StreamObserver<ProcessingResponse> out) {
      this.out = out;
    }

    @Override
    public void onNext(ProcessingRequest request) {
      if (closed) {
        return;
      }
      if (request.hasMetadataContext()) {
        List<String> hint = EnvoyMessages.subsetHint(request.getMetadataContext());
        if (hint != null) {
          subsetHint = hint;
        }
      }
      try {
        switch (request.getRequestCase()) {
          case REQUEST_HEADERS -> requestHeaders(request.getRequestHeaders());
          case REQUEST_BODY -> requestBody(request.getRequestBody());
          case REQUEST_TRAILERS -> { } // ignored, as in Go: no answer is expected in full-duplex mode
          case RESPONSE_HEADERS -> responseHeaders(request.getResponseHeaders());
          case RESPONSE_BODY -> responseBody(request.getResponseBody());
          case RESPONSE_TRAILERS -> responseTrailers();
          default -> throw new InferenceException(Code.BAD_REQUEST, "empty ext_proc request");
        }
      } catch (InferenceException e) {
        fail(e);
      } catch (RuntimeException e) {
        log.warn("ext_proc stream failed: {}", e.toString());
        fail(new InferenceException(Code.INTERNAL, "internal error"));
      }
    }

    @Override
    public void onError(Throwable t) {
      close();
    }

    @Override
    public void onCompleted() {
      if (!closed) {
        close();
        out.onCompleted();
      }
    }

    private void requestHeaders(HttpHeaders message) {
      startNanos = ticker.nanos();
      headers = EnvoyMessages.headers(message.getHeaders());
      if (message.getEndOfStream()) {
        routing = director.routeHeaderOnly(headers);
        Map<String, String> set = new LinkedHashMap<>();
        set.put(EnvoyMessages.DESTINATION, routing.destination());
        if (!headers.containsKey(Director.REQUEST_ID_HEADER)) {
          set.put(Director.REQUEST_ID_HEADER, routing.context().request().requestId());
        }
        send(ProcessingResponse.newBuilder()
            .setRequestHeaders(HeadersResponse.newBuilder().setResponse(CommonResponse.newBuilder()
                .setClearRouteCache(true)
                .setHeaderMutation(EnvoyMessages.setHeaders(set).addAllRemoveHeaders(removals()))))
            .setDynamicMetadata(EnvoyMessages.destinationMetadata(routing.destination()))
            .build());
      }
    }

    private void requestBody(HttpBody message) {
      ByteString chunk = message.getBody();
      if (requestBody.size() + (long) chunk.size() > maxRequestBodyBytes) {
        throw new InferenceException(Code.PAYLOAD_TOO_LARGE,
            "request body exceeds the limit of " + maxRequestBodyBytes + " bytes");
      }
      requestBody = requestBody.concat(chunk);
      if (!message.getEndOfStream()) {
        return;
      }
      byte[] body = requestBody.toByteArray();
      requestBody = ByteString.EMPTY;
      routing = director.route(headers, body, subsetHint);
      Map<String, String> set = new LinkedHashMap<>();
      set.put(EnvoyMessages.DESTINATION, routing.destination());
      if (routing.body().length > 0) {
        set.put("Content-Length", Integer.toString(routing.body().length));
      }
      headers.forEach((name, value) -> {
        if (EnvoyMessages.echoable(name)) {
          set.put(name, value);
        }
      });
      set.putIfAbsent(Director.REQUEST_ID_HEADER, routing.context().request().requestId());
      send(ProcessingResponse.newBuilder()
          .setRequestHeaders(HeadersResponse.newBuilder().setResponse(CommonResponse.newBuilder()
              .setClearRouteCache(true)
              .setHeaderMutation(EnvoyMessages.setHeaders(set).addAllRemoveHeaders(removals()))))
          .setDynamicMetadata(EnvoyMessages.destinationMetadata(routing.destination()))
          .build());
      InferenceRequest request = routing.context().request();
      metrics.recordRequest(request.incomingModel(), request.targetModel(), request.priority());
      metrics.recordRequestSize(request.incomingModel(), request.targetModel(), routing.body().length);
      for (BodyResponse part : EnvoyMessages.bodyChunks(routing.body())) {
        send(ProcessingResponse.newBuilder().setRequestBody(part).build());
      }
      metrics.requestStarted(request.incomingModel());
      running = true;
    }

    /** Client-sent system headers to strip from the upstream request. */
    private List<String> removals() {
      return headers.keySet().stream()
          .filter(name -> EnvoyMessages.SYSTEM_HEADERS.contains(name) && !name.equals("content-length"))
          .toList();
    }

    private void responseHeaders(HttpHeaders message) {
      Map<String, String> received = EnvoyMessages.headers(message.getHeaders());
      Map<String, String> set = new LinkedHashMap<>();
      set.put(EnvoyMessages.WENT_INTO_RESPONSE_HEADERS, "true");
      Map<String, String> outgoing =
          routing == null ? received : director.responseHeaders(routing, received).headers();
      outgoing.forEach((name, value) -> {
        if (EnvoyMessages.echoable(name)) {
          set.put(name, value);
        }
      });
      HeaderMutation.Builder mutation = EnvoyMessages.setHeaders(set);
      if (routing != null && routing.bodyChanged() && received.containsKey("content-length")) {
        mutation.addRemoveHeaders("content-length"); // the served model's name is put back into the body
      }
      send(ProcessingResponse.newBuilder()
          .setResponseHeaders(HeadersResponse.newBuilder()
              .setResponse(CommonResponse.newBuilder().setHeaderMutation(mutation)))
          .build());
    }

    private void responseBody(HttpBody message) {
      ByteString chunk = message.getBody();
      boolean end = message.getEndOfStream();
      responseBytes += chunk.size();
      if (routing == null || routing.streaming()) {
        if (routing != null) {
          byte[] bytes = chunk.toByteArray();
          recordUsage(director.responseBody(routing, bytes, end));
          byte[] restored = director.restoreModelName(routing, bytes);
          if (restored != bytes) {
            chunk = ByteString.copyFrom(restored);
          }
        }
        if (end) {
          recordResponseEnd();
        }
        sendResponseChunk(EnvoyMessages.bodyChunk(chunk, end), end);
        return;
      }
      responseBody = responseBody.concat(chunk);
      if (!end) {
        return;
      }
      byte[] body = responseBody.toByteArray();
      responseBody = ByteString.EMPTY;
      recordUsage(director.responseBody(routing, body, true));
      recordResponseEnd();
      List<BodyResponse> parts = EnvoyMessages.bodyChunks(director.restoreModelName(routing, body));
      for (int i = 0; i < parts.size(); i++) {
        sendResponseChunk(parts.get(i), i == parts.size() - 1);
      }
    }

    private void sendResponseChunk(BodyResponse part, boolean last) {
      ProcessingResponse.Builder response = ProcessingResponse.newBuilder().setResponseBody(part);
      if (last && routing != null) {
        routing.response()
            .map(InferenceResponse::dynamicMetadata)
            .filter(metadata -> !metadata.isEmpty())
            .ifPresent(metadata -> response.setDynamicMetadata(EnvoyMessages.struct(metadata)));
      }
      send(response.build());
    }

    private void responseTrailers() {
      if (routing != null && !responseBody.isEmpty()) {
        recordUsage(director.responseBody(routing, responseBody.toByteArray(), false));
        responseBody = ByteString.EMPTY;
      }
      if (routing != null) {
        director.finish(routing);
        recordResponseEnd();
      }
      send(ProcessingResponse.newBuilder()
          .setResponseTrailers(TrailersResponse.newBuilder().setHeaderMutation(HeaderMutation.getDefaultInstance()))
          .build());
    }

    private void recordUsage(Usage usage) {
      if (usage == null) {
        return;
      }
      InferenceRequest request = routing.context().request();
      metrics.recordTokens(request.incomingModel(), request.targetModel(), usage.promptTokens(),
          usage.completionTokens());
      if (usage.cachedTokens() > 0) {
        metrics.recordPromptCachedTokens(request.incomingModel(), request.targetModel(), usage.cachedTokens());
      }
      outputTokens = Math.max(outputTokens, usage.completionTokens());
    }

    /** Records the response's size and the request's duration, once. */
    private void recordResponseEnd() {
      if (responseRecorded || routing == null) {
        return;
      }
      responseRecorded = true;
      InferenceRequest request = routing.context().request();
      metrics.recordResponseSize(request.incomingModel(), request.targetModel(), responseBytes);
      metrics.recordRequestDuration(
          request.incomingModel(), request.targetModel(), ticker.nanos() - startNanos, outputTokens);
    }

    private void fail(InferenceException e) {
      errorCode = e.code().wireName();
      send(EnvoyMessages.error(e));
      close();
      out.onCompleted();
    }

    private void send(ProcessingResponse response) {
      try {
        out.onNext(response);
      } catch (RuntimeException e) {
        // the call was cancelled under us; nothing more can be sent
        close();
        throw new InferenceException(Code.INTERNAL, "stream cancelled: " + Status.fromThrowable(e));
      }
    }

    private void close() {
      if (closed) {
        return;
      }
      closed = true;
      requestBody = ByteString.EMPTY;
      responseBody = ByteString.EMPTY;
      if (routing != null) {
        director.finish(routing);
      }
      if (errorCode != null) {
        InferenceRequest request = routing == null ? null : routing.context().request();
        metrics.recordRequestError(request == null ? "" : request.incomingModel(),
            request == null ? "" : request.targetModel(), errorCode);
      }
      if (running) {
        metrics.requestFinished(routing.context().request().incomingModel());
      }
    }
  }
}
