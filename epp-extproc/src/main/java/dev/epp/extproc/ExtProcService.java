package dev.epp.extproc;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
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
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
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
 * <p>A stream that receives no message for the idle timeout (default 15 minutes) is cancelled with
 * {@code DEADLINE_EXCEEDED}, so an abandoned stream cannot hold its buffers forever.
 *
 * <p><b>Threading:</b> gRPC serialises each stream's callbacks; streams run concurrently.
 */
public final class ExtProcService extends ExternalProcessorGrpc.ExternalProcessorImplBase {

  private static final Logger log = LoggerFactory.getLogger(ExtProcService.class);

  /** The default request body limit, 16 MiB. */
  public static final int DEFAULT_MAX_REQUEST_BODY_BYTES = 16 << 20;
  /**
   * The default time a stream may go without a message before it is cancelled: longer than any generation, since a
   * non-streamed response sends nothing until the model server answers.
   */
  public static final Duration DEFAULT_STREAM_IDLE_TIMEOUT = Duration.ofMinutes(15);

  private static final ScheduledExecutorService SWEEPER = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread thread = new Thread(r, "ext-proc-idle-sweeper");
    thread.setDaemon(true);
    return thread;
  });

  private final Director director;
  private final MetricsRecorder metrics;
  private final Ticker ticker;
  private final int maxRequestBodyBytes;
  private final long idleTimeoutNanos;
  private final Set<Stream> streams = ConcurrentHashMap.newKeySet();
  private final ScheduledFuture<?> sweep;

  private ExtProcService(Builder builder) {
    this.director = builder.director;
    this.metrics = builder.metrics;
    this.ticker = builder.ticker;
    this.maxRequestBodyBytes = builder.maxRequestBodyBytes;
    this.idleTimeoutNanos = builder.streamIdleTimeout.toNanos();
    long period = Math.max(1, Math.min(1000, builder.streamIdleTimeout.toMillis() / 4));
    this.sweep = SWEEPER.scheduleWithFixedDelay(this::expireIdleStreams, period, period, TimeUnit.MILLISECONDS);
  }

  /** A builder of a service routing through {@code director}. */
  public static Builder builder(Director director) {
    return new Builder(director);
  }

  /** Stops the idle-stream sweeper; streams in flight are not touched. */
  public void close() {
    sweep.cancel(false);
  }

  private void expireIdleStreams() {
    long now = ticker.nanos();
    for (Stream stream : streams) {
      stream.expireIfIdle(now);
    }
  }

  @Override
  public StreamObserver<ProcessingRequest> process(StreamObserver<ProcessingResponse> responses) {
    return new Stream(responses);
  }

  /** One HTTP request's exchange. Synchronised because the idle sweeper may end it from another thread. */
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

    private volatile long lastActivityNanos = ticker.nanos();

    Stream(StreamObserver<ProcessingResponse> out) {
      this.out = out;
      streams.add(this);
    }

    synchronized void expireIfIdle(long now) {
      if (!closed && now - lastActivityNanos > idleTimeoutNanos) {
        log.warn("ext_proc stream idle for more than {} ms, cancelling it", idleTimeoutNanos / 1_000_000);
        close();
        out.onError(Status.DEADLINE_EXCEEDED
            .withDescription("no ext_proc message for " + idleTimeoutNanos / 1_000_000 + " ms")
            .asRuntimeException());
      }
    }

    @Override
    public synchronized void onNext(ProcessingRequest request) {
      if (closed) {
        return;
      }
      lastActivityNanos = ticker.nanos();
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
    public synchronized void onError(Throwable t) {
      close();
    }

    @Override
    public synchronized void onCompleted() {
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
      List<String> removals = new ArrayList<>(0);
      for (String name : headers.keySet()) {
        if (EnvoyMessages.SYSTEM_HEADERS.contains(name) && !name.equals("content-length")) {
          removals.add(name);
        }
      }
      return removals;
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
            chunk = UnsafeByteOperations.unsafeWrap(restored); // a fresh array, never changed
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

    /** Answers with the error and ends the stream; quietly, if the stream is already gone. */
    private void fail(InferenceException e) {
      errorCode = e.code().wireName();
      if (closed) {
        return;
      }
      close();
      try {
        out.onNext(EnvoyMessages.error(e));
        out.onCompleted();
      } catch (RuntimeException cancelled) {
        // the client went away; there is no one to tell
      }
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
      streams.remove(this);
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

  /** Builds {@link ExtProcService}s. Not thread-safe. */
  public static final class Builder {
    private final Director director;
    private MetricsRecorder metrics = MetricsRecorder.noop();
    private Ticker ticker = Ticker.system();
    private int maxRequestBodyBytes = DEFAULT_MAX_REQUEST_BODY_BYTES;
    private Duration streamIdleTimeout = DEFAULT_STREAM_IDLE_TIMEOUT;

    private Builder(Director director) {
      this.director = Objects.requireNonNull(director, "director");
    }

    /** Where the {@code inference_objective_*} request metrics go; default {@link MetricsRecorder#noop()}. */
    public Builder metrics(MetricsRecorder value) {
      this.metrics = Objects.requireNonNull(value, "metrics");
      return this;
    }

    /** The time source for request durations and idleness; default {@link Ticker#system()}. */
    public Builder ticker(Ticker value) {
      this.ticker = Objects.requireNonNull(value, "ticker");
      return this;
    }

    /** The largest request body accepted; larger ones get 413. Default {@link #DEFAULT_MAX_REQUEST_BODY_BYTES}. */
    public Builder maxRequestBodyBytes(int value) {
      if (value <= 0) {
        throw new IllegalArgumentException("maxRequestBodyBytes must be positive");
      }
      this.maxRequestBodyBytes = value;
      return this;
    }

    /**
     * How long a stream may go without a message before it is cancelled with {@code DEADLINE_EXCEEDED} and its
     * buffers freed; default {@link #DEFAULT_STREAM_IDLE_TIMEOUT}.
     */
    public Builder streamIdleTimeout(Duration value) {
      if (value.isNegative() || value.isZero()) {
        throw new IllegalArgumentException("streamIdleTimeout must be positive");
      }
      this.streamIdleTimeout = value;
      return this;
    }

    /** Builds the service and starts its idle-stream sweeper; {@link ExtProcService#close()} stops it. */
    public ExtProcService build() {
      return new ExtProcService(this);
    }
  }
}
