package dev.epp.extproc;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.UnsafeByteOperations;
import dev.epp.api.InferenceException;
import dev.epp.api.InferenceException.Code;
import dev.epp.api.MetricsRecorder;
import dev.epp.api.Ticker;
import dev.epp.api.requestcontrol.InferenceResponse;
import dev.epp.scheduler.Director;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import io.opentelemetry.context.propagation.TextMapGetter;
import dev.epp.scheduler.Explanation;
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
import io.grpc.BindableService;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCallHandler;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Envoy's {@code envoy.service.ext_proc.v3.ExternalProcessor/Process}, answered as the Go EPP answers it with
 * {@code FULL_DUPLEX_STREAMED} bodies.
 *
 * <p>A stream carries one HTTP request. The request headers are held until the body ends, with {@code end_of_stream}
 * or with the request trailers (a header-only request is answered at once with a random endpoint); then one headers
 * response (clear route cache, {@code x-gateway-destination-endpoint} and the same value in dynamic metadata
 * {@code envoy.lb}, {@code Content-Length}, echoed headers, a generated {@code x-request-id} when missing) is followed
 * by the body in streamed chunks of at most 62,000 bytes (then, after trailers, by a trailers response). Request
 * headers or body after the request was routed (a second request on the stream) fail it with {@code BadRequest}.
 * Response headers get {@code x-went-into-resp-headers: true}; response bodies are echoed chunk by chunk for event
 * streams and buffered to their end (end of stream or trailers) otherwise; when the model was rewritten, the served
 * model's name in response bodies is put back to the one the client asked for (Go v1.5) and the upstream
 * {@code Content-Length} is dropped. A request that cannot be routed gets one {@code ImmediateResponse} with body
 * {@code inference error: <Code> - <message>}, its HTTP status and the error's response headers (such as
 * {@code x-llm-d-request-dropped-reason}), and the stream ends.
 *
 * <p>With flow control on, a request that must wait is held in its queue without a thread: the stream stays open and
 * is answered when the request is dispatched (or dropped); a stream that ends meanwhile (Envoy cancels it when the
 * client goes away) takes its request out of the queue at once. Request trailers that arrive while it waits are
 * answered after the routed headers and body.
 *
 * <p>Unlike the Go EPP, control headers ({@link Director#CONTROL_HEADERS}: the {@code x-llm-d-*} and
 * {@code x-gateway-*} names of the objective, model rewrite and fairness id, and llm-d's sidecar headers
 * {@code x-prefiller-host-port} and {@code x-encoder-hosts-ports}; {@code x-gateway-destination-endpoint-subset}) and
 * client-sent {@code x-gateway-destination-endpoint[-served]} headers are removed from the upstream request, and the
 * destination header overwrites rather than appends. The headers plugins set with
 * {@link dev.epp.api.requestcontrol.UpstreamHeaders} ({@link dev.epp.scheduler.Routing#upstreamHeaders()}) are
 * added to the request headers response, replacing the client's.
 *
 * <p>Buffered bodies are bounded twice: a request body by {@link Builder#maxRequestBodyBytes} (else 413), and the
 * request and response bodies buffered by all streams together by {@link Builder#maxBufferedBodyBytes} (else 429).
 * A stream returns what it holds to that budget when the body is routed (a body waiting in flow control stays
 * counted) or flushed, and when the stream ends however it ends. A stream that receives no message for the idle
 * timeout (default 15 minutes) is cancelled with {@code DEADLINE_EXCEEDED}, so an abandoned stream cannot hold its
 * buffers forever. Bytes that are not an ext_proc
 * message end the stream with {@code INVALID_ARGUMENT} and are counted by {@link MalformedInput}.
 *
 * <p><b>Threading:</b> gRPC serialises each stream's callbacks; streams run concurrently.
 */
public final class ExtProcService implements ExternalProcessorGrpc.AsyncService, BindableService {

  private static final Logger log = LoggerFactory.getLogger(ExtProcService.class);

  /** The default request body limit, 16 MiB. */
  public static final int DEFAULT_MAX_REQUEST_BODY_BYTES = 16 << 20;
  /**
   * The default time a stream may go without a message before it is cancelled: longer than any generation, since a
   * non-streamed response sends nothing until the model server answers.
   */
  public static final Duration DEFAULT_STREAM_IDLE_TIMEOUT = Duration.ofMinutes(15);

  /** Stands for bytes that are not an ext_proc message (compared by identity). */
  private static final ProcessingRequest MALFORMED = ProcessingRequest.newBuilder().build();
  /** The span of a stream's HTTP request, GIE's name. */
  public static final String SPAN_NAME = "gateway.request";
  private static final TextMapGetter<Map<String, String>> HEADERS =
      (carrier, key) -> carrier == null ? null : carrier.get(key);

  /** The default idle-stream sweeper: one daemon thread shared by every service of the process, never shut down. */
  private static final class SharedSweeper {
    static final ScheduledExecutorService INSTANCE = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread thread = new Thread(r, "ext-proc-idle-sweeper");
      thread.setDaemon(true);
      return thread;
    });
  }

  /**
   * Answers the streams whose requests waited in flow control, off the thread that dispatched them (which may hold
   * another stream): two daemon threads, started when first needed, shared by every service of the process.
   */
  private static final Executor DELIVERY = Executors.newFixedThreadPool(2, r -> {
    Thread thread = new Thread(r, "ext-proc-delivery");
    thread.setDaemon(true);
    return thread;
  });

  private final Supplier<Director> directors;
  private final MetricsRecorder metrics;
  private final Tracer tracer; // null: tracing off
  private final Ticker ticker;
  private final int maxRequestBodyBytes;
  private final long maxBufferedBodyBytes;
  private final AtomicLong bufferedBodyBytes = new AtomicLong();
  private final long idleTimeoutNanos;
  private final boolean emitEndpointScores;
  private final Set<Stream> streams = ConcurrentHashMap.newKeySet();
  private final ScheduledFuture<?> sweep;

  private ExtProcService(Builder builder) {
    this.directors = builder.directors;
    this.metrics = builder.metrics;
    this.tracer = builder.openTelemetry == null ? null : builder.openTelemetry.getTracer("dev.epp.extproc");
    this.ticker = directors.get().ticker();
    this.maxRequestBodyBytes = builder.maxRequestBodyBytes;
    this.maxBufferedBodyBytes = builder.maxBufferedBodyBytes != 0 ? builder.maxBufferedBodyBytes
        : defaultMaxBufferedBodyBytes(builder.maxRequestBodyBytes);
    if (maxBufferedBodyBytes < maxRequestBodyBytes) {
      throw new IllegalArgumentException("the buffered body budget of " + maxBufferedBodyBytes
          + " bytes is smaller than the request body limit of " + maxRequestBodyBytes + " bytes");
    }
    this.idleTimeoutNanos = builder.streamIdleTimeout.toNanos();
    this.emitEndpointScores = builder.emitEndpointScores;
    long period = Math.max(1, Math.min(1000, builder.streamIdleTimeout.toMillis() / 4));
    ScheduledExecutorService sweeper = builder.scheduler != null ? builder.scheduler : SharedSweeper.INSTANCE;
    this.sweep = sweeper.scheduleWithFixedDelay(this::expireIdleStreams, period, period, TimeUnit.MILLISECONDS);
  }

  /** A builder of a service routing through {@code director}. */
  public static Builder builder(Director director) {
    Objects.requireNonNull(director, "director");
    return new Builder(() -> director);
  }

  /**
   * A builder of a service routing each stream through the director {@code directors} supplies when the stream
   * opens (read once per stream, so a stream's request and response go through one director even if the supplied
   * one changes meanwhile, as on a configuration reload). The directors must share one ticker.
   */
  public static Builder builder(Supplier<Director> directors) {
    return new Builder(Objects.requireNonNull(directors, "directors"));
  }

  /**
   * How many open streams route through {@code director}: when it is 0 after {@code director} stopped being
   * supplied, no stream uses it any more.
   */
  public int streamsOn(Director director) {
    int count = 0;
    for (Stream stream : streams) {
      if (stream.director == director) {
        count++;
      }
    }
    return count;
  }

  /**
   * The weighted total of each endpoint the primary profile scored, by {@code ip:port}; empty without an
   * explanation.
   */
  static Map<String, Double> endpointScores(Routing routing) {
    if (routing.explanation().isEmpty() || routing.result().isEmpty()) {
      return Map.of();
    }
    Explanation explanation = routing.explanation().get();
    String primary = routing.result().get().primaryProfile();
    Map<String, String> addresses = explanation.addresses();
    Map<String, Double> scores = new LinkedHashMap<>();
    for (Explanation.ProfileRun run : explanation.profiles()) {
      if (run.profile().equals(primary) && run.pick() != null) {
        run.pick().totals().forEach((name, total) -> scores.put(addresses.get(name), total));
      }
    }
    scores.remove(null);
    return scores;
  }

  /** A quarter of the maximum heap, and at least {@code maxRequestBodyBytes}. */
  private static long defaultMaxBufferedBodyBytes(int maxRequestBodyBytes) {
    return Math.max(Runtime.getRuntime().maxMemory() / 4, maxRequestBodyBytes);
  }

  /** Stops sweeping idle streams (the scheduler is not shut down); streams in flight are not touched. */
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

  /**
   * The service, with a request parser that turns bytes that are not an ext_proc message into {@link #MALFORMED}
   * rather than an exception (which grpc-java would log with a stack trace for every such message).
   */
  @Override
  public ServerServiceDefinition bindService() {
    MethodDescriptor<ProcessingRequest, ProcessingResponse> process = ExternalProcessorGrpc.getProcessMethod();
    @SuppressWarnings("unchecked")
    ServerCallHandler<ProcessingRequest, ProcessingResponse> handler =
        (ServerCallHandler<ProcessingRequest, ProcessingResponse>) ExternalProcessorGrpc.bindService(this)
            .getMethod(process.getFullMethodName()).getServerCallHandler();
    return ServerServiceDefinition.builder(ExternalProcessorGrpc.SERVICE_NAME)
        .addMethod(process.toBuilder().setRequestMarshaller(new LenientParser(process.getRequestMarshaller())).build(),
            handler)
        .build();
  }

  /** Takes {@code bytes} from the shared body budget if it has them. Lock-free. */
  private boolean tryReserve(long bytes) {
    long used;
    do {
      used = bufferedBodyBytes.get();
      if (used + bytes > maxBufferedBodyBytes) {
        return false;
      }
    } while (!bufferedBodyBytes.compareAndSet(used, used + bytes));
    return true;
  }

  /**
   * Parses ext_proc messages; yields {@link #MALFORMED} for bytes that are not one. A message is copied once out of
   * the transport's buffers and its bytes fields (the body chunks) share that copy, where gRPC's own parser would copy
   * each body chunk a second time.
   */
  private static final class LenientParser implements MethodDescriptor.Marshaller<ProcessingRequest> {
    private final MethodDescriptor.Marshaller<ProcessingRequest> proto;

    LenientParser(MethodDescriptor.Marshaller<ProcessingRequest> proto) {
      this.proto = proto;
    }

    @Override
    public InputStream stream(ProcessingRequest value) {
      return proto.stream(value);
    }

    @Override
    public ProcessingRequest parse(InputStream stream) {
      try {
        if (!(stream instanceof KnownLength)) {
          return proto.parse(stream);
        }
        byte[] message = new byte[stream.available()];
        stream.readNBytes(message, 0, message.length);
        CodedInputStream input = CodedInputStream.newInstance(message);
        input.enableAliasing(true);
        return ProcessingRequest.parseFrom(input);
      } catch (IOException e) {
        MalformedInput.record("not an ext_proc message", e);
        return MALFORMED;
      } catch (StatusRuntimeException e) {
        MalformedInput.record("not an ext_proc message", e.getCause() != null ? e.getCause() : e);
        return MALFORMED;
      }
    }
  }

  /** Where a stream's one HTTP request is. */
  private enum RequestPhase { AWAITING_HEADERS, RECEIVING_BODY, ROUTED }

  /** One HTTP request's exchange. Synchronised because the idle sweeper may end it from another thread. */
  private final class Stream implements StreamObserver<ProcessingRequest> {
    private final StreamObserver<ProcessingResponse> out;
    private final Director director = directors.get();
    private RequestPhase phase = RequestPhase.AWAITING_HEADERS;
    private Map<String, String> headers = Map.of();
    private List<String> subsetHint;
    private ByteString requestBody = ByteString.EMPTY;
    private ByteString responseBody = ByteString.EMPTY;
    private long reservedBytes; // taken from the shared body budget for requestBody and responseBody
    private Routing routing;
    private boolean closed;
    private long startNanos;
    private final long openedNanos = ticker.nanos();
    private boolean failureRecorded; // the Director recorded why the request failed
    private InferenceException failure;
    private Span span; // the request's span; null with tracing off
    private CompletableFuture<Routing> queued; // the request while flow control holds it
    private boolean queuedEndOfStream;
    private boolean trailersQueued; // request trailers arrived while queued

    private volatile long lastActivityNanos = ticker.nanos();

    Stream(StreamObserver<ProcessingResponse> out) {
      this.out = out;
      streams.add(this);
      metrics.extProcStreamStarted();
    }

    synchronized void expireIfIdle(long now) {
      if (!closed && now - lastActivityNanos > idleTimeoutNanos) {
        log.warn("ext_proc stream idle for more than {} ms, cancelling it", idleTimeoutNanos / 1_000_000);
        close(Status.Code.DEADLINE_EXCEEDED);
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
      if (request == MALFORMED) {
        close(Status.Code.INVALID_ARGUMENT);
        out.onError(Status.INVALID_ARGUMENT.withDescription("not an ext_proc ProcessingRequest").asRuntimeException());
        return;
      }
      if (request.hasMetadataContext()) {
        List<String> hint = EnvoyMessages.subsetHint(request.getMetadataContext());
        if (hint != null) {
          subsetHint = hint;
        }
      }
      guarded(() -> {
        switch (request.getRequestCase()) {
          case REQUEST_HEADERS -> requestHeaders(request.getRequestHeaders());
          case REQUEST_BODY -> requestBody(request.getRequestBody());
          case REQUEST_TRAILERS -> requestTrailers();
          case RESPONSE_HEADERS -> responseHeaders(request.getResponseHeaders());
          case RESPONSE_BODY -> responseBody(request.getResponseBody());
          case RESPONSE_TRAILERS -> responseTrailers();
          default -> throw new InferenceException(Code.BAD_REQUEST, "empty ext_proc request");
        }
      });
    }

    /** Runs {@code action}; a failure answers the client with its error and ends the stream. */
    private void guarded(Runnable action) {
      try {
        action.run();
      } catch (InferenceException e) {
        fail(e);
      } catch (RuntimeException e) {
        log.warn("ext_proc stream failed: {}", e.toString());
        fail(new InferenceException(Code.INTERNAL, "internal error"));
      }
    }

    @Override
    public synchronized void onError(Throwable t) {
      close(Status.fromThrowable(t).getCode());
    }

    @Override
    public synchronized void onCompleted() {
      if (!closed) {
        close(Status.Code.OK);
        out.onCompleted();
      }
    }

    private void requestHeaders(HttpHeaders message) {
      if (phase != RequestPhase.AWAITING_HEADERS) {
        throw new InferenceException(Code.BAD_REQUEST,
            "request headers arrived again; an ext_proc stream carries one HTTP request");
      }
      begin(EnvoyMessages.headers(message.getHeaders()));
      if (message.getEndOfStream()) {
        phase = RequestPhase.ROUTED;
        routing = routed(() -> inSpan(() -> director.routeHeaderOnly(headers, startNanos)));
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

    /** Starts the stream's request; without request headers (header mode {@code SKIP}) it has none. */
    private void begin(Map<String, String> requestHeaders) {
      startNanos = ticker.nanos();
      headers = requestHeaders;
      phase = RequestPhase.RECEIVING_BODY;
      if (tracer != null) {
        Context parent = W3CTraceContextPropagator.getInstance().extract(Context.root(), headers, HEADERS);
        span = tracer.spanBuilder(SPAN_NAME).setSpanKind(SpanKind.SERVER).setParent(parent).startSpan();
      }
    }

    /** Calls the Director with the request's span current, so the Director's span is its child. */
    private <T> T inSpan(Supplier<T> call) {
      if (span == null) {
        return call.get();
      }
      Scope scope = span.makeCurrent();
      try {
        return call.get();
      } finally {
        scope.close();
      }
    }

    private void requestBody(HttpBody message) {
      if (phase == RequestPhase.ROUTED) {
        throw new InferenceException(Code.BAD_REQUEST, "request body after the request was routed");
      }
      if (phase == RequestPhase.AWAITING_HEADERS) {
        begin(Map.of());
      }
      ByteString chunk = message.getBody();
      if (requestBody.size() + (long) chunk.size() > maxRequestBodyBytes) {
        throw new InferenceException(Code.PAYLOAD_TOO_LARGE,
            "request body exceeds the limit of " + maxRequestBodyBytes + " bytes");
      }
      reserve(chunk.size());
      requestBody = requestBody.concat(chunk);
      if (message.getEndOfStream()) {
        route(true);
      }
    }

    /** Trailers end the request body (Envoy sends them instead of {@code end_of_stream}) and are answered. */
    private void requestTrailers() {
      if (phase != RequestPhase.ROUTED) {
        if (phase == RequestPhase.AWAITING_HEADERS) {
          begin(Map.of());
        }
        route(false);
      }
      if (queued != null) {
        trailersQueued = true; // answered after the routed headers and body
        return;
      }
      sendRequestTrailersResponse();
    }

    private void sendRequestTrailersResponse() {
      send(ProcessingResponse.newBuilder()
          .setRequestTrailers(TrailersResponse.newBuilder().setHeaderMutation(HeaderMutation.getDefaultInstance()))
          .build());
    }

    /**
     * Routes the buffered body; {@code endOfStream} is false when trailers follow the body. A request flow control
     * holds is {@link #queued}: the stream waits without a thread and is answered by {@link #dispatched}.
     */
    private void route(boolean endOfStream) {
      phase = RequestPhase.ROUTED;
      byte[] body = requestBody.toByteArray();
      requestBody = ByteString.EMPTY;
      CompletableFuture<Routing> routed = inSpan(() -> director.routeAsync(headers, body, subsetHint, startNanos));
      if (routed.isDone()) {
        releaseReserved();
        forward(result(routed), endOfStream);
        return;
      }
      // the body stays counted against the shared budget while it waits in flow control
      queued = routed;
      queuedEndOfStream = endOfStream;
      routed.whenCompleteAsync((ignored, error) -> dispatched(routed), DELIVERY);
    }

    /** Answers a request that waited in flow control, unless the stream ended meanwhile. */
    private synchronized void dispatched(CompletableFuture<Routing> routed) {
      queued = null;
      releaseReserved();
      if (closed) {
        if (!routed.isCompletedExceptionally()) {
          director.finish(routed.join()); // routed as the client left
        }
        return;
      }
      lastActivityNanos = ticker.nanos();
      guarded(() -> {
        forward(result(routed), queuedEndOfStream);
        if (trailersQueued) {
          sendRequestTrailersResponse();
        }
      });
    }

    /** The routing of a completed {@link Director#routeAsync}; its failure rethrown (recorded by the Director). */
    private Routing result(CompletableFuture<Routing> routed) {
      try {
        return routed.join();
      } catch (CompletionException | CancellationException e) {
        if (e.getCause() instanceof InferenceException failed) {
          failureRecorded = true;
          throw failed;
        }
        throw e.getCause() instanceof RuntimeException cause ? cause : e;
      }
    }

    /** Sends the routed request's headers and body to Envoy. */
    private void forward(Routing routed, boolean endOfStream) {
      routing = routed;
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
      set.putAll(routing.upstreamHeaders());
      send(ProcessingResponse.newBuilder()
          .setRequestHeaders(HeadersResponse.newBuilder().setResponse(CommonResponse.newBuilder()
              .setClearRouteCache(true)
              .setHeaderMutation(EnvoyMessages.setHeaders(set).addAllRemoveHeaders(removals()))))
          .setDynamicMetadata(EnvoyMessages.destinationMetadata(routing.destination(),
              emitEndpointScores ? endpointScores(routing) : Map.of()))
          .build());
      for (BodyResponse part : EnvoyMessages.bodyChunks(routing.body(), endOfStream)) {
        send(ProcessingResponse.newBuilder().setRequestBody(part).build());
      }
      routing.releaseBody(); // serialised by now; the request in flight holds none of its body
    }

    /** The Director's routing; the Director records its own errors. */
    private Routing routed(Supplier<Routing> route) {
      try {
        return route.get();
      } catch (InferenceException e) {
        failureRecorded = true;
        throw e;
      }
    }

    /** Takes {@code bytes} from the shared body budget for this stream, or fails the request with 429. */
    private void reserve(int bytes) {
      if (!tryReserve(bytes)) {
        throw new InferenceException(Code.RESOURCE_EXHAUSTED, "the EPP is buffering its limit of "
            + maxBufferedBodyBytes + " body bytes across all requests; retry later");
      }
      reservedBytes += bytes;
    }

    /** Returns what this stream took from the shared body budget. */
    private void releaseReserved() {
      bufferedBodyBytes.addAndGet(-reservedBytes);
      reservedBytes = 0;
    }

    /**
     * Client-sent system headers to strip from the upstream request; Envoy applies removals before the headers the
     * EPP sets, so a header the EPP sets is listed too.
     */
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
      if (routing == null || routing.streaming()) {
        if (routing != null) {
          byte[] bytes = chunk.toByteArray();
          director.responseBody(routing, bytes, end);
          byte[] restored = director.restoreModelName(routing, bytes);
          if (restored != bytes) {
            chunk = UnsafeByteOperations.unsafeWrap(restored); // a fresh array, never changed
          }
        }
        sendResponseChunk(EnvoyMessages.bodyChunk(chunk, end), end);
        return;
      }
      reserve(chunk.size());
      responseBody = responseBody.concat(chunk);
      if (end) {
        flushResponseBody(true);
      }
    }

    /**
     * Sends the buffered response body with the model name put back, after the Director has seen it;
     * {@code endOfStream} is false when trailers follow the body.
     */
    private void flushResponseBody(boolean endOfStream) {
      byte[] body = responseBody.toByteArray();
      responseBody = ByteString.EMPTY;
      releaseReserved();
      director.responseBody(routing, body, true);
      List<BodyResponse> parts = EnvoyMessages.bodyChunks(director.restoreModelName(routing, body), endOfStream);
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

    /** Trailers end a buffered response body, which is sent before the trailers are answered. */
    private void responseTrailers() {
      if (routing != null && !responseBody.isEmpty()) {
        flushResponseBody(false);
      }
      if (routing != null) {
        director.endResponse(routing);
      }
      send(ProcessingResponse.newBuilder()
          .setResponseTrailers(TrailersResponse.newBuilder().setHeaderMutation(HeaderMutation.getDefaultInstance()))
          .build());
    }

    /** Answers with the error and ends the stream; quietly, if the stream is already gone. */
    private void fail(InferenceException e) {
      failure = e;
      if (closed) {
        return;
      }
      if (span != null) {
        span.setStatus(StatusCode.ERROR, e.getMessage());
      }
      close(Status.Code.OK); // the error goes to the client as an immediate response on a stream that ends OK
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
        close(Status.fromThrowable(e).getCode());
        throw new InferenceException(Code.INTERNAL, "stream cancelled: " + Status.fromThrowable(e));
      }
    }

    /** Ends the exchange, which ends the stream with {@code code}. */
    private void close(Status.Code code) {
      if (closed) {
        return;
      }
      closed = true;
      streams.remove(this);
      metrics.extProcStreamFinished(goName(code), ticker.nanos() - openedNanos);
      if (queued != null) {
        queued.cancel(false); // leaves the flow-control queue at once
      }
      requestBody = ByteString.EMPTY;
      responseBody = ByteString.EMPTY;
      releaseReserved();
      if (routing != null) {
        director.finish(routing);
      }
      if (failure != null && !failureRecorded) {
        director.recordFailure(routing, failure);
      }
      if (span != null) {
        span.end();
      }
    }
  }

  /** The name Go's gRPC gives {@code code} ({@code Canceled}, {@code DeadlineExceeded}...), as llm-d labels it. */
  static String goName(Status.Code code) {
    if (code == Status.Code.OK || code == Status.Code.CANCELLED) {
      return code == Status.Code.OK ? "OK" : "Canceled";
    }
    StringBuilder name = new StringBuilder();
    for (String word : code.name().split("_")) {
      name.append(word.charAt(0)).append(word.substring(1).toLowerCase(java.util.Locale.ROOT));
    }
    return name.toString();
  }

  /** Builds {@link ExtProcService}s. Not thread-safe. */
  public static final class Builder {
    private final Supplier<Director> directors;
    private int maxRequestBodyBytes = DEFAULT_MAX_REQUEST_BODY_BYTES;
    private long maxBufferedBodyBytes;
    private Duration streamIdleTimeout = DEFAULT_STREAM_IDLE_TIMEOUT;
    private ScheduledExecutorService scheduler;
    private MetricsRecorder metrics = MetricsRecorder.noop();
    private OpenTelemetry openTelemetry;
    private boolean emitEndpointScores;

    private Builder(Supplier<Director> directors) {
      this.directors = directors;
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
     * The most request and response body bytes all streams together may buffer; a chunk that does not fit fails its
     * request with 429. Must be at least {@link #maxRequestBodyBytes}; 0 (default) means a quarter of the maximum
     * heap (at least {@link #maxRequestBodyBytes}): routing a body briefly needs up to three times its size (the
     * chunks and their contiguous copy; then that copy, the prompt's text and, for a model rewrite, a rewritten
     * copy), so the buffers stay well inside the heap. A routed request holds none of them.
     */
    public Builder maxBufferedBodyBytes(long value) {
      if (value < 0) {
        throw new IllegalArgumentException("maxBufferedBodyBytes must not be negative");
      }
      this.maxBufferedBodyBytes = value;
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

    /**
     * Where idle streams are swept (a few times per idle timeout, at most every second); default one daemon thread
     * shared by every service of the process. {@link ExtProcService#close()} cancels the sweep and never shuts the
     * scheduler down.
     */
    public Builder scheduler(ScheduledExecutorService value) {
      this.scheduler = Objects.requireNonNull(value, "scheduler");
      return this;
    }

    /**
     * Where each stream's opening and end (with its gRPC status) are reported
     * ({@link MetricsRecorder#extProcStreamStarted()}, {@link MetricsRecorder#extProcStreamFinished}); default none.
     */
    public Builder metrics(MetricsRecorder value) {
      this.metrics = Objects.requireNonNull(value, "metrics");
      return this;
    }

    /**
     * Traces each stream's HTTP request with {@code value}'s tracer provider: a {@value #SPAN_NAME} span (kind
     * server), a child of the request's {@code traceparent}/{@code tracestate} headers, from the request headers to
     * the stream's end, with status error when the request is answered with an error; it is current while the
     * Director routes, so the Director's spans are its children. Default: no tracing, at no cost per stream.
     */
    public Builder openTelemetry(OpenTelemetry value) {
      this.openTelemetry = Objects.requireNonNull(value, "openTelemetry");
      return this;
    }

    /**
     * Whether the request-headers response's {@code envoy.lb} metadata also carries
     * {@code x-gateway-destination-endpoint-scores}: each endpoint the primary profile scored ({@code ip:port}) to
     * its weighted total, including those not picked, as llm-d's {@code --emit-endpoint-scores}; default
     * {@code false}. Needs a director built with {@link Director.Builder#explainEveryRequest}; without an
     * explanation the key is left out.
     */
    public Builder emitEndpointScores(boolean value) {
      this.emitEndpointScores = value;
      return this;
    }

    /**
     * Builds the service and starts its idle-stream sweeper; {@link ExtProcService#close()} stops it.
     *
     * @throws IllegalArgumentException if the buffered body budget is smaller than the request body limit
     */
    public ExtProcService build() {
      return new ExtProcService(this);
    }
  }
}
