package dev.epp.scheduler;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.EndpointStore;
import dev.epp.api.InferenceException;
import dev.epp.api.InferenceException.Code;
import dev.epp.api.InferenceRequest;
import dev.epp.api.MetricsRecorder;
import dev.epp.api.RequestBody;
import dev.epp.api.RequestContext;
import dev.epp.api.Ticker;
import dev.epp.api.requestcontrol.Admission;
import dev.epp.api.requestcontrol.AsyncPrepareData;
import dev.epp.api.requestcontrol.Fairness;
import dev.epp.api.requestcontrol.InferenceResponse;
import dev.epp.api.requestcontrol.ModelRewrites;
import dev.epp.api.requestcontrol.Objectives;
import dev.epp.api.requestcontrol.ParsedRequest;
import dev.epp.api.requestcontrol.PreRequest;
import dev.epp.api.requestcontrol.PrepareData;
import dev.epp.api.requestcontrol.RequestHeaderProcessor;
import dev.epp.api.requestcontrol.RequestParser;
import dev.epp.api.requestcontrol.ResponseBody;
import dev.epp.api.requestcontrol.ResponseHeader;
import dev.epp.api.requestcontrol.SaturationDetector;
import dev.epp.api.requestcontrol.Usage;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.SchedulingResult;
import dev.epp.scheduler.flowcontrol.FlowController;
import dev.epp.scheduler.flowcontrol.FlowKey;
import dev.epp.scheduler.flowcontrol.FlowRequest;
import dev.epp.scheduler.flowcontrol.Outcome;
import dev.epp.scheduler.flowcontrol.Ticket;
import dev.epp.scheduler.internal.FailureLog;
import dev.epp.scheduler.plugins.prefix.PrefixMatch;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Scope;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The in-process entry point for gateways: turns an incoming request (headers and body) into a routing decision, and
 * runs the response hooks as the response streams back. It does what the Go EPP's director does, without Envoy:
 *
 * <ol>
 *   <li>parse the body with the configured {@link RequestParser} ({@code BAD_REQUEST} if invalid or without
 *       {@code model});
 *   <li>choose the target model: a matching {@link ModelRewrites} rule (counted with
 *       {@link MetricsRecorder#recordModelRewrite}), else {@code x-llm-d-model-name-rewrite} (or the Go EPP's
 *       {@code x-gateway-model-name-rewrite}), else the requested model; look up the priority of
 *       {@code x-llm-d-inference-objective} (or {@code x-gateway-inference-objective}); the llm-d name wins when a
 *       request carries both;
 *   <li>narrow the pool to the gateway's subset hint ({@code SERVICE_UNAVAILABLE} if nothing is left), then to
 *       the live endpoints: those whose metrics are fresher than the staleness threshold, unless none is (see
 *       {@link Builder#stalenessThreshold});
 *   <li>shed a sheddable request (priority below 0) when the saturation detector reports 1.0 or more
 *       ({@code RESOURCE_EXHAUSTED});
 *   <li>run data producers and admission plugins, schedule; fail a request with {@code Prefer: if-available}
 *       (llm-d's conditional decode) with {@code PRECONDITION_FAILED} (412) when the primary endpoint holds none of
 *       its prompt's prefix by the {@code approx-prefix-cache-producer}; run pre-request hooks, which may add
 *       {@linkplain Routing#upstreamHeaders() upstream headers};
 *   <li>re-serialise the body only if the model was rewritten;
 *   <li>drop the prompt from the request ({@link RequestContext#releasePrompt()}): a routed request in flight holds
 *       no copy of its prompt, only the body in {@link Routing#body()} until the gateway releases it.
 * </ol>
 *
 * <p><b>Metrics.</b> The director records each request's lifecycle through the configuration's
 * {@link EndpointPickerConfig#metrics() MetricsRecorder}, so every gateway that routes through it, in-process or
 * over ext_proc, reports the same {@code inference_objective_*} series: the request, its size and the running
 * requests when it is routed (or its error when it cannot be), the tokens of the usage in its response, the response's
 * size and the request's duration when the response completes; {@link #finish} ends it. Errors raised by the gateway
 * itself are recorded with {@link #recordFailure}.
 *
 * <p><b>Tracing</b> (off by default, {@link Builder#openTelemetry}): a {@code gateway.request_orchestration} span per
 * routed request, naming the request, its models, priority, chosen endpoints and profiles, with one event per
 * filter, scorer and picker call and its duration; its {@code traceparent} is forwarded upstream.
 *
 * <p>Errors are {@link InferenceException}s whose code is the HTTP status to return. Plugin failures in hooks are
 * contained and logged at most once a minute per plugin; an admission plugin denies by throwing
 * {@link InferenceException}.
 *
 * <p><b>Threading:</b> thread-safe; each {@link Routing} is confined to its request.
 */
public final class Director {

  /** Header naming the request's objective. */
  public static final String OBJECTIVE_HEADER = "x-llm-d-inference-objective";
  /** The Go EPP's name for {@link #OBJECTIVE_HEADER}, read when that is absent. */
  public static final String GATEWAY_OBJECTIVE_HEADER = "x-gateway-inference-objective";
  /** Header overriding the model the request is served with. */
  public static final String MODEL_REWRITE_HEADER = "x-llm-d-model-name-rewrite";
  /** The Go EPP's name for {@link #MODEL_REWRITE_HEADER}, read when that is absent. */
  public static final String GATEWAY_MODEL_REWRITE_HEADER = "x-gateway-model-name-rewrite";
  /** Header naming the request's flow for fairness: its {@link Fairness#ID}. */
  public static final String FAIRNESS_ID_HEADER = "x-llm-d-inference-fairness-id";
  /** The Go EPP's name for {@link #FAIRNESS_ID_HEADER}. */
  public static final String GATEWAY_FAIRNESS_ID_HEADER = "x-gateway-inference-fairness-id";
  /** Header telling a decode pod's sidecar the {@code ip:port} of the prefill pod (llm-d's disaggregation). */
  public static final String PREFILLER_HOST_PORT_HEADER = "x-prefiller-host-port";
  /** Header telling a decode pod's sidecar the {@code ip:port,...} of the encode pods (llm-d's disaggregation). */
  public static final String ENCODER_HOSTS_PORTS_HEADER = "x-encoder-hosts-ports";
  /**
   * The client's control headers under both names, and the sidecar headers only the EPP may set
   * ({@link #PREFILLER_HOST_PORT_HEADER}, {@link #ENCODER_HOSTS_PORTS_HEADER}, set through
   * {@link Routing#upstreamHeaders()}): a client's copy is never forwarded to the model server.
   */
  public static final Set<String> CONTROL_HEADERS = Set.of(OBJECTIVE_HEADER, GATEWAY_OBJECTIVE_HEADER,
      MODEL_REWRITE_HEADER, GATEWAY_MODEL_REWRITE_HEADER, FAIRNESS_ID_HEADER, GATEWAY_FAIRNESS_ID_HEADER,
      PREFILLER_HOST_PORT_HEADER, ENCODER_HOSTS_PORTS_HEADER);
  /** Request header whose {@code if-available} preference asks for a decode endpoint that already holds the prefix. */
  public static final String PREFER_HEADER = "prefer";
  /** Header carrying the request id; generated when absent. */
  public static final String REQUEST_ID_HEADER = "x-request-id";
  /** Request header with the time-to-first-token SLO in milliseconds, for {@code slo-deadline-ordering-policy}. */
  public static final String SLO_TTFT_HEADER = "x-llm-d-slo-ttft-ms";
  /** The older name of {@link #SLO_TTFT_HEADER}, accepted when the new one is absent. */
  public static final String LEGACY_SLO_TTFT_HEADER = "x-slo-ttft-ms";
  /** Response header of a request flow control dropped, with llm-d's reason, e.g. {@code rejected-ttl-expired}. */
  public static final String DROPPED_REASON_HEADER = "x-llm-d-request-dropped-reason";

  private final EndpointStore endpoints;
  private final Scheduler scheduler;
  private final ParserRegistry parsers;
  private final SaturationDetector saturationDetector;
  private final Objectives objectives;
  private final ModelRewrites modelRewrites;
  private final List<RequestHeaderProcessor> headerProcessors;
  private final List<AsyncPrepareData> asyncDataProducers;
  private final List<PrepareData> dataProducers;
  private final List<Admission> admissions;
  private final List<PreRequest> preRequests;
  private final List<ResponseHeader> responseHeaders;
  private final List<ResponseBody> responseBodies;
  private final FailureLog failures;
  private final MetricsRecorder metrics;
  private final Ticker ticker;
  private final long stalenessNanos;
  private final boolean explainEveryRequest;
  private final Tracer tracer; // null: tracing off
  private final DecisionLog decisionLog; // or null
  private final FlowController flowController;
  private final EndpointStore.Listener dispatchOnPoolChange = new EndpointStore.Listener() {
    @Override
    public void added(Endpoint endpoint) {
      flowController.signal();
    }

    @Override
    public void removed(Endpoint endpoint) {}

    @Override
    public void metricsUpdated(Endpoint endpoint) {
      flowController.signal();
    }
  };

  private Director(Builder builder) {
    EndpointPickerConfig config = builder.config;
    this.endpoints = builder.endpoints;
    List<Objectives> configured = config.plugins(Objectives.class);
    this.objectives = builder.objectives != null ? builder.objectives
        : configured.isEmpty() ? Objectives.none() : configured.get(0);
    this.modelRewrites = builder.modelRewrites;
    this.scheduler = new Scheduler(config, builder.ticker);
    this.parsers = config.parserRegistry();
    this.saturationDetector = config.saturationDetector().orElse(null);
    this.headerProcessors = config.plugins(RequestHeaderProcessor.class);
    this.asyncDataProducers = config.plugins(AsyncPrepareData.class);
    this.dataProducers = config.plugins(PrepareData.class);
    this.admissions = config.plugins(Admission.class);
    this.preRequests = config.plugins(PreRequest.class);
    this.responseHeaders = config.plugins(ResponseHeader.class);
    this.responseBodies = config.plugins(ResponseBody.class);
    this.failures = new FailureLog(builder.ticker);
    this.metrics = config.metrics();
    this.ticker = builder.ticker;
    this.stalenessNanos = builder.stalenessThreshold.toNanos();
    this.explainEveryRequest = builder.explainEveryRequest;
    this.tracer = builder.openTelemetry == null ? null : builder.openTelemetry.getTracer("dev.epp.scheduler");
    this.decisionLog = builder.decisionLog;
    config.listenTo(endpoints);
    this.flowController = config.flowControl().map(settings -> FlowController.builder()
        .config(settings)
        .saturationSource(new PoolSaturation())
        .ticker(builder.ticker)
        .scheduler(config.scheduler())
        .metrics(metrics)
        .build()).orElse(null);
    if (flowController != null) {
      endpoints.addListener(dispatchOnPoolChange);
    }
  }

  /** The pool's saturation by the configured detector, for flow control; an empty pool has no room. */
  private final class PoolSaturation implements FlowController.SaturationSource {
    @Override
    public double saturation() {
      Candidates pool = endpoints.snapshot();
      if (pool.size() == 0) {
        return 1.0;
      }
      return saturationDetector == null ? 0.0 : saturationDetector.saturation(pool);
    }

    @Override
    public boolean hasEndpoints() {
      return endpoints.snapshot().size() > 0;
    }
  }

  /**
   * Stops flow control, if on: queued requests fail with {@code rejected-shutting-down} and later ones are rejected
   * at once; requests already routed are not touched, so they drain. Idempotent.
   */
  public void close() {
    if (flowController != null) {
      endpoints.removeListener(dispatchOnPoolChange);
      flowController.close();
    }
  }

  /**
   * A builder of a director over {@code endpoints} with the plugins of {@code config}. Building registers the
   * configuration's pool listeners with {@code endpoints} ({@link EndpointPickerConfig#listenTo}).
   */
  public static Builder builder(EndpointPickerConfig config, EndpointStore endpoints) {
    return new Builder(config, endpoints);
  }

  /** The director's time source: the time base of {@code receivedNanos} in {@link #route(Map, byte[], List, long)}. */
  public Ticker ticker() {
    return ticker;
  }

  /**
   * Routes a request with a body that arrived now; see {@link #route(Map, byte[], List, long)}.
   *
   * @throws InferenceException if the request cannot be routed
   */
  public Routing route(Map<String, String> headers, byte[] body, List<String> subsetHint) {
    return route(headers, body, subsetHint, ticker.nanos());
  }

  /**
   * Routes a request with a body, waiting while flow control holds it; see {@link #routeAsync}, which this joins.
   * Records the request (count, size, running requests) or, when it cannot be routed, its error; the request is
   * running until {@link #finish}.
   *
   * @param headers request headers with lower-case names, control headers included
   * @param body the complete request body; not modified
   * @param subsetHint the gateway's candidate subset ({@code ip:port} entries, port ignored), or {@code null} for
   *     the whole pool
   * @param receivedNanos when the request's headers arrived, by the {@link Builder#ticker ticker}: the request's
   *     duration is measured from it
   * @throws InferenceException if the request cannot be routed
   */
  public Routing route(Map<String, String> headers, byte[] body, List<String> subsetHint, long receivedNanos) {
    try {
      return routeAsync(headers, body, subsetHint, receivedNanos).join();
    } catch (CompletionException e) {
      throw e.getCause() instanceof RuntimeException cause ? cause : e;
    }
  }

  /**
   * Routes a request with a body without blocking the caller; the arguments are those of
   * {@link #route(Map, byte[], List, long)}.
   *
   * <p>Without flow control and {@link AsyncPrepareData} plugins the future is complete on return. With the
   * {@code flowControl} feature gate the request first waits in its flow's queue (fairness ID, objective priority)
   * while the pool is saturated; it is scheduled when dispatched, or fails with an {@link InferenceException} whose
   * status and {@code x-llm-d-request-dropped-reason} response header say why it was dropped (llm-d's outcomes).
   * Cancelling the future (the client went away) takes a queued request out of its queue at once; a request routed
   * while it was being cancelled is {@linkplain #finish finished}, so it never counts as running.
   *
   * <p>The future completes on the thread that dispatched or prepared the request, which may be another request's:
   * continuations that block or do much belong on an executor.
   *
   * <p>With {@link Builder#openTelemetry tracing} on, the request's {@code gateway.request_orchestration} span, a child
   * of the current span (else of the request's {@code traceparent} header), lasts until the future completes, and its
   * {@code traceparent} is an {@linkplain Routing#upstreamHeaders() upstream header} of the routing.
   */
  public CompletableFuture<Routing> routeAsync(Map<String, String> headers, byte[] body, List<String> subsetHint,
      long receivedNanos) {
    if (tracer == null) {
      return routeAsync(headers, body, subsetHint, receivedNanos, null);
    }
    Span span = OrchestrationSpan.start(tracer, headers);
    CompletableFuture<Routing> routed;
    Scope scope = span.makeCurrent();
    try {
      routed = routeAsync(headers, body, subsetHint, receivedNanos, span);
    } catch (RuntimeException e) {
      OrchestrationSpan.end(span, e);
      throw e;
    } finally {
      scope.close();
    }
    routed.whenComplete((routing, e) -> OrchestrationSpan.end(span, e));
    return routed;
  }

  /** {@link #routeAsync(Map, byte[], List, long)} within {@code span}, {@code null} when tracing is off. */
  private CompletableFuture<Routing> routeAsync(Map<String, String> headers, byte[] body, List<String> subsetHint,
      long receivedNanos, Span span) {
    RequestParser parser;
    InferenceRequest request;
    try {
      parser = parsers.resolve(headers);
      request = request(parser, headers, body);
    } catch (InferenceException e) {
      metrics.recordRequestError("", "", e.code().wireName());
      return CompletableFuture.failedFuture(e);
    }
    RequestContext context;
    try {
      context = begin(request);
    } catch (InferenceException e) {
      return failed(request, e);
    }
    if (flowController == null) {
      return admitted(context, parser, body, subsetHint, receivedNanos, true, span);
    }
    Ticket ticket = flowController.enqueue(new FlowRequest(new FlowKey(context.get(Fairness.ID), request.priority()),
        body.length, receivedNanos, null, sloDeadline(headers, receivedNanos), null, request.incomingModel(),
        request.targetModel()));
    CompletableFuture<Routing> result = new CompletableFuture<>();
    ticket.outcome().thenAccept(outcome -> {
      try {
        if (outcome.kind() != Outcome.Kind.DISPATCHED) {
          failed(request, dropped(outcome.kind())).whenComplete((ignored, e) -> result.completeExceptionally(e));
          return;
        }
        admitted(context, parser, body, subsetHint, receivedNanos, false, span).whenComplete((routing, e) -> {
          if (e != null) {
            result.completeExceptionally(e instanceof CompletionException && e.getCause() != null ? e.getCause() : e);
          } else if (!result.complete(routing)) {
            finish(routing); // cancelled while it was being routed
          }
        });
      } catch (RuntimeException e) {
        result.completeExceptionally(e); // a failing plugin must not leave the caller waiting
      }
    });
    result.whenComplete((routing, e) -> {
      if (e instanceof CancellationException) {
        ticket.cancel();
      }
    });
    return result;
  }

  /** The request's failure, recorded. */
  private CompletableFuture<Routing> failed(InferenceRequest request, InferenceException e) {
    metrics.recordRequestError(request.incomingModel(), request.targetModel(), "", request.priority(),
        e.code().wireName());
    if (decisionLog != null && decisionLog.wantsNext()) {
      logFailure(request, e);
    }
    return CompletableFuture.failedFuture(e);
  }

  /** Adds the request's failure to the decision log. */
  private void logFailure(InferenceRequest request, InferenceException e) {
    decisionLog.add(new DecisionLog.Decision(System.currentTimeMillis(), request.requestId(), request.incomingModel(),
        request.targetModel(), null, List.of(), e.code().wireName(), e.getMessage()));
  }

  /** The error a request dropped by flow control gets, with llm-d's status, message and dropped-reason header. */
  private static InferenceException dropped(Outcome.Kind kind) {
    String message = switch (kind) {
      case REJECTED_CAPACITY -> "flow control queue capacity reached";
      case REJECTED_NO_ENDPOINTS -> "no endpoints available: flow control queue capacity reached";
      case EVICTED_TTL -> "request timed out in queue";
      case EVICTED_NO_ENDPOINTS -> "request timed out in queue and no endpoints are available";
      case CANCELLED -> "client disconnected";
      case SHUTTING_DOWN -> "flow controller shutting down";
      case DISPATCHED -> throw new IllegalArgumentException("not dropped");
    };
    Code code = kind.httpStatus() == 429 ? Code.RESOURCE_EXHAUSTED : Code.SERVICE_UNAVAILABLE;
    return new InferenceException(code, message, Map.of(DROPPED_REASON_HEADER, kind.droppedReason()));
  }

  /**
   * The request's SLO deadline for {@code slo-deadline-ordering-policy}: received plus {@code x-llm-d-slo-ttft-ms}
   * (else the older {@code x-slo-ttft-ms}); none if absent or not a non-negative number.
   */
  private static long sloDeadline(Map<String, String> headers, long receivedNanos) {
    String value = headers.get(SLO_TTFT_HEADER);
    if (value == null) {
      value = headers.get(LEGACY_SLO_TTFT_HEADER);
    }
    if (value == null) {
      return Long.MAX_VALUE;
    }
    try {
      double millis = Double.parseDouble(value.trim());
      return millis >= 0 && millis < 1e12 ? receivedNanos + (long) (millis * 1_000_000) : Long.MAX_VALUE;
    } catch (NumberFormatException e) {
      return Long.MAX_VALUE;
    }
  }

  /** The parsed request, with its target model after rewriting. */
  private InferenceRequest request(RequestParser parser, Map<String, String> headers, byte[] body) {
    ParsedRequest parsed = parser.parseRequest(body, headers);
    String incoming = parsed.model();
    if (incoming.isEmpty() && parsed.body().api() != RequestBody.Api.OPAQUE) {
      throw new InferenceException(Code.BAD_REQUEST, "model not found in request body");
    }
    ModelRewrites.Rewrite rule = incoming.isEmpty() ? null : modelRewrites.rewrite(incoming);
    String rewrite =
        rule != null ? rule.targetModel() : header(headers, MODEL_REWRITE_HEADER, GATEWAY_MODEL_REWRITE_HEADER);
    String target = rewrite == null || rewrite.isEmpty() ? incoming : rewrite;
    if (rule != null) {
      metrics.recordModelRewrite(rule.rule(), incoming, target);
    }
    String objective = header(headers, OBJECTIVE_HEADER, GATEWAY_OBJECTIVE_HEADER);
    return new InferenceRequest(
        requestId(headers),
        incoming,
        target,
        headers,
        parsed.body(),
        objective == null ? 0 : objectives.priority(objective),
        body.length);
  }

  /** The header under its llm-d name, else under its Go EPP name (llm-d's precedence); {@code null} if neither. */
  private static String header(Map<String, String> headers, String name, String gatewayName) {
    String value = headers.get(name);
    return value != null ? value : headers.get(gatewayName);
  }

  /** The fairness header if not empty, else the agent identity, else the default flow (llm-d's precedence). */
  private static String fairnessId(Map<String, String> headers, RequestContext context) {
    String header = header(headers, FAIRNESS_ID_HEADER, GATEWAY_FAIRNESS_ID_HEADER);
    if (header != null && !header.isEmpty()) {
      return header;
    }
    String agent = context.get(Fairness.AGENT_IDENTITY);
    return agent != null && !agent.isEmpty() ? agent : Fairness.DEFAULT_ID;
  }

  /** The request's context after the header processors ran, with its fairness ID. */
  private RequestContext begin(InferenceRequest request) {
    RequestContext context = new RequestContext(request);
    for (RequestHeaderProcessor processor : headerProcessors) {
      try {
        processor.requestHeader(context);
      } catch (InferenceException e) {
        throw e;
      } catch (RuntimeException e) {
        failures.failed(processor, "RequestHeader", "skipping it", e);
      }
    }
    context.put(Fairness.ID, fairnessId(request.headers(), context));
    return context;
  }

  /**
   * Schedules an admitted request over the current candidates, after its asynchronous data is prepared; without flow
   * control ({@code shedSheddable}) a sheddable request is dropped while the candidates are saturated, as in GIE.
   */
  private CompletableFuture<Routing> admitted(RequestContext context, RequestParser parser, byte[] body,
      List<String> subsetHint, long receivedNanos, boolean shedSheddable, Span span) {
    InferenceRequest request = context.request();
    Candidates candidates = candidates(subsetHint);
    if (candidates.size() == 0) {
      return failed(request, new InferenceException(Code.SERVICE_UNAVAILABLE,
          "failed to find endpoint candidates for serving the request"));
    }
    if (shedSheddable && request.isSheddable() && saturationDetector != null
        && saturationDetector.saturation(candidates) >= 1.0) {
      return failed(request, new InferenceException(Code.RESOURCE_EXHAUSTED,
          "system saturated, sheddable request dropped"));
    }
    if (asyncDataProducers.isEmpty()) {
      try {
        return CompletableFuture.completedFuture(scheduled(context, parser, body, candidates, receivedNanos, span));
      } catch (RuntimeException e) {
        return CompletableFuture.failedFuture(e);
      }
    }
    return asyncData(context, candidates)
        .thenApply(ignored -> scheduled(context, parser, body, candidates, receivedNanos, span));
  }

  /** Runs the {@link AsyncPrepareData} plugins concurrently; completes, never exceptionally, when all have. */
  private CompletableFuture<Void> asyncData(RequestContext context, Candidates candidates) {
    CompletableFuture<?>[] stages = new CompletableFuture<?>[asyncDataProducers.size()];
    for (int i = 0; i < stages.length; i++) {
      AsyncPrepareData producer = asyncDataProducers.get(i);
      CompletableFuture<Void> stage;
      try {
        stage = producer.prepareDataAsync(context, candidates).toCompletableFuture();
      } catch (RuntimeException e) {
        stage = CompletableFuture.failedFuture(e);
      }
      stages[i] = stage.handle((ignored, e) -> {
        if (e != null) {
          Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
          failures.failed(producer, "PrepareData", "skipping its data", cause);
        }
        return null;
      });
    }
    return CompletableFuture.allOf(stages);
  }

  /** Prepares data, admits, schedules and records the request; records its error if it cannot be routed. */
  private Routing scheduled(RequestContext context, RequestParser parser, byte[] body, Candidates candidates,
      long receivedNanos, Span span) {
    InferenceRequest request = context.request();
    boolean logged = decisionLog != null && decisionLog.wantsNext();
    Routing routing;
    try {
      routing = schedule(context, parser, body, candidates, receivedNanos, span, logged);
    } catch (InferenceException e) {
      metrics.recordRequestError(request.incomingModel(), request.targetModel(), fairness(context),
          request.priority(), e.code().wireName());
      if (logged) {
        logFailure(request, e);
      }
      throw e;
    }
    if (logged) {
      decisionLog.add(new DecisionLog.Decision(System.currentTimeMillis(), request.requestId(),
          request.incomingModel(), request.targetModel(), routing.explanation().orElse(null),
          routing.targets().stream().map(Endpoint::name).toList(), null, null));
    }
    String fairness = fairness(context);
    metrics.recordRequest(request.incomingModel(), request.targetModel(), fairness, request.priority());
    metrics.recordRequestSize(request.incomingModel(), request.targetModel(), fairness, request.priority(),
        routing.body().length);
    metrics.requestStarted(request.incomingModel(), request.targetModel(), fairness, request.priority());
    routing.start();
    context.releasePrompt();
    return routing;
  }

  /** Schedules the request; records it on {@code span} unless that is {@code null} (tracing off). */
  private Routing schedule(RequestContext context, RequestParser parser, byte[] body, Candidates candidates,
      long receivedNanos, Span span, boolean logged) {
    InferenceRequest request = context.request();
    for (PrepareData producer : dataProducers) {
      try {
        producer.prepareData(context, candidates);
      } catch (RuntimeException e) {
        failures.failed(producer, "PrepareData", "skipping its data", e);
      }
    }
    for (Admission admission : admissions) {
      try {
        admission.admit(context, candidates);
      } catch (InferenceException e) {
        throw e;
      } catch (RuntimeException e) {
        failures.failed(admission, "Admission", "admitting the request", e);
      }
    }
    Explanation explanation =
        explainEveryRequest || logged || span != null && span.isRecording() ? new Explanation() : null;
    SchedulingResult result = scheduler.schedule(context, candidates, explanation);
    if (conditionalDecode(request.headers()) && !holdsCachedPrefix(context, result.targets().get(0))) {
      throw new InferenceException(Code.PRECONDITION_FAILED, "no decode worker has the requested KV cache");
    }
    for (PreRequest hook : preRequests) {
      try {
        hook.preRequest(context, result);
      } catch (RuntimeException e) {
        failures.failed(hook, "PreRequest", "skipping it", e);
      }
    }
    if (span != null) {
      OrchestrationSpan.scheduled(span, context, result, explanation);
    }
    String incoming = request.incomingModel();
    String target = request.targetModel();
    boolean rewritten = !incoming.isEmpty() && !incoming.equals(target);
    byte[] forwarded = rewritten ? parser.withModel(body, target) : body;
    return new Routing(context, parser, result, result.targets(), forwarded, rewritten, receivedNanos, explanation);
  }

  /** Whether the request prefers {@code if-available} (RFC 7240): llm-d's conditional decode. */
  private static boolean conditionalDecode(Map<String, String> headers) {
    String prefer = headers.get(PREFER_HEADER);
    if (prefer == null) {
      return false;
    }
    for (String preference : prefer.split(",")) {
      int parameters = preference.indexOf(';');
      String token = (parameters < 0 ? preference : preference.substring(0, parameters)).trim();
      if (token.equalsIgnoreCase("if-available")) {
        return true;
      }
    }
    return false;
  }

  /** Whether the prefix-cache producer found at least one prompt block on {@code target}. */
  private static boolean holdsCachedPrefix(RequestContext context, Endpoint target) {
    PrefixMatch match = context.get(PrefixMatch.KEY);
    return match != null && match.matchedBlocks(target) > 0;
  }

  /**
   * Routes a request without a body (e.g. {@code GET /v1/models}) that arrived at {@code receivedNanos} to a
   * uniformly random live endpoint of the pool, unscheduled, as the Go EPP does. Only its error and its response's
   * size and duration are recorded; its response is not parsed for usage.
   *
   * @throws InferenceException {@code INTERNAL} if the pool is empty
   */
  public Routing routeHeaderOnly(Map<String, String> headers, long receivedNanos) {
    Candidates pool = live(endpoints.snapshot());
    if (pool.size() == 0) {
      InferenceException e = new InferenceException(Code.INTERNAL, "no pods available in datastore");
      metrics.recordRequestError("", "", e.code().wireName());
      throw e;
    }
    Endpoint target = pool.endpoint(ThreadLocalRandom.current().nextInt(pool.size()));
    InferenceRequest request = InferenceRequest.builder().requestId(requestId(headers)).headers(headers).build();
    return new Routing(new RequestContext(request), null, null, List.of(target), new byte[0], false, receivedNanos,
        null);
  }

  /** {@link #routeHeaderOnly(Map, long)} for a request that arrived now. */
  public Routing routeHeaderOnly(Map<String, String> headers) {
    return routeHeaderOnly(headers, ticker.nanos());
  }

  /**
   * Records that a request failed in the gateway rather than in the Director (a body over the gateway's limit, a
   * protocol error, a lost stream): {@code routing} is {@code null} if the request was not routed. Errors the
   * Director throws are recorded already.
   */
  public void recordFailure(Routing routing, InferenceException error) {
    if (routing == null) {
      metrics.recordRequestError("", "", error.code().wireName());
      return;
    }
    InferenceRequest request = routing.context().request();
    metrics.recordRequestError(request.incomingModel(), request.targetModel(), fairness(routing.context()),
        request.priority(), error.code().wireName());
  }

  /**
   * Runs the response-header hooks when the model server's response headers arrive.
   *
   * @param headers response headers with lower-case names
   * @return the response; hooks may have added headers for the client
   */
  public InferenceResponse responseHeaders(Routing routing, Map<String, String> headers) {
    InferenceResponse response = new InferenceResponse(routing.targets().get(0), headers);
    String contentType = headers.getOrDefault("content-type", "");
    routing.response(response, contentType.contains("text/event-stream") || routing.context().request().body().stream());
    for (ResponseHeader hook : responseHeaders) {
      try {
        hook.responseHeaders(routing.context(), response);
      } catch (RuntimeException e) {
        failures.failed(hook, "ResponseHeader", "skipping it", e);
      }
    }
    return response;
  }

  /**
   * Runs the response-body hooks for one chunk (or the whole buffered body), after parsing usage from it. Records the
   * usage's tokens; at {@code endOfStream}, the response's size and the request's duration.
   *
   * @return the usage the chunk reported, or {@code null}
   */
  public Usage responseBody(Routing routing, byte[] chunk, boolean endOfStream) {
    InferenceResponse response = responseOf(routing);
    routing.responseBytes(chunk.length);
    if (routing.streaming() && chunk.length > 0) {
      recordChunkLatency(routing);
    }
    Usage usage = routing.parser() == null ? null : routing.parser().parseResponse(chunk, routing.streaming());
    if (usage != null) {
      response.usage(merged(response.usage(), usage));
      recordUsage(routing, usage);
    }
    response.endOfStream(endOfStream);
    runResponseBodyHooks(routing, response);
    if (endOfStream) {
      complete(routing);
    }
    return usage;
  }

  /**
   * The response ended without a body chunk marked end of stream (its trailers arrived): runs the response-body
   * hooks once with end of stream set and records the response's size and the request's duration. Does nothing for
   * a completed response.
   */
  public void endResponse(Routing routing) {
    if (!routing.completed()) {
      responseBody(routing, new byte[0], true);
    }
  }

  /**
   * The response's usage so far with a chunk's usage folded in, as llm-d merges it: streams may split usage across
   * events (Anthropic's {@code message_start} carries the input and cached tokens, {@code message_delta} the output
   * tokens), so each count is taken from the chunks that report it (non-zero). A chunk reporting input, output and
   * total keeps its total; otherwise the total is input plus output.
   */
  private static Usage merged(Usage sofar, Usage chunk) {
    long prompt = chunk.promptTokens() != 0 ? chunk.promptTokens() : sofar.promptTokens();
    long completion = chunk.completionTokens() != 0 ? chunk.completionTokens() : sofar.completionTokens();
    long cached = chunk.cachedTokens() != 0 ? chunk.cachedTokens() : sofar.cachedTokens();
    boolean complete = chunk.promptTokens() != 0 && chunk.completionTokens() != 0 && chunk.totalTokens() != 0;
    return new Usage(prompt, completion, complete ? chunk.totalTokens() : prompt + completion, cached);
  }

  private void recordUsage(Routing routing, Usage usage) {
    InferenceRequest request = routing.context().request();
    String fairness = fairness(routing.context());
    metrics.recordTokens(request.incomingModel(), request.targetModel(), fairness, request.priority(),
        usage.promptTokens(), usage.completionTokens());
    if (usage.cachedTokens() > 0) {
      metrics.recordPromptCachedTokens(request.incomingModel(), request.targetModel(), fairness, request.priority(),
          usage.cachedTokens());
    }
    routing.outputTokens(usage.completionTokens());
  }

  /** Marks the response complete and records its size and duration, once. */
  private void complete(Routing routing) {
    if (routing.completed()) {
      return;
    }
    routing.complete();
    signalFlowControl();
    InferenceRequest request = routing.context().request();
    String fairness = fairness(routing.context());
    long now = ticker.nanos();
    long duration = now - routing.receivedNanos();
    metrics.recordResponseSize(request.incomingModel(), request.targetModel(), fairness, request.priority(),
        routing.responseBytes());
    metrics.recordRequestDuration(request.incomingModel(), request.targetModel(), fairness, request.priority(),
        duration, routing.outputTokens());
    if (!routing.streaming()) { // llm-d: a buffered response's first token is its whole body
      metrics.recordTimeToFirstToken(request.incomingModel(), request.targetModel(), fairness, request.priority(),
          false, duration);
    } else if (routing.sawChunk()) {
      metrics.recordTimePerOutputToken(request.incomingModel(), request.targetModel(), fairness, request.priority(),
          now - routing.firstChunkNanos(), routing.outputTokens());
    }
  }

  /**
   * A streamed response's body chunk arrived: the first one records the time to first token, each later one the
   * inter-token latency (the time since the previous chunk), as llm-d measures them.
   */
  private void recordChunkLatency(Routing routing) {
    long now = ticker.nanos();
    InferenceRequest request = routing.context().request();
    if (!routing.sawChunk()) {
      metrics.recordTimeToFirstToken(request.incomingModel(), request.targetModel(), fairness(routing.context()),
          request.priority(), true, now - routing.receivedNanos());
    } else {
      metrics.recordInterTokenLatency(request.incomingModel(), request.targetModel(), fairness(routing.context()),
          request.priority(), now - routing.lastChunkNanos());
    }
    routing.chunkArrived(now);
  }

  /** The request's fairness ID, {@code ""} if it has none (a header-only request). */
  private static String fairness(RequestContext context) {
    String id = context.get(Fairness.ID);
    return id == null ? "" : id;
  }

  /**
   * A response chunk with the served (rewritten) model name put back to the one the client asked for, as the Go EPP
   * v1.5 does: {@code "model":"<target>"} and {@code "model": "<target>"} become the requested name. The chunk itself
   * when the model was not rewritten or the name does not occur. The response length changes, so a gateway must drop
   * the upstream {@code Content-Length} when {@link Routing#bodyChanged()}.
   */
  public byte[] restoreModelName(Routing routing, byte[] chunk) {
    if (!routing.bodyChanged()) {
      return chunk;
    }
    InferenceRequest request = routing.context().request();
    byte[] result = replace(chunk, "\"model\":\"" + request.targetModel() + "\"",
        "\"model\":\"" + request.incomingModel() + "\"");
    return replace(result, "\"model\": \"" + request.targetModel() + "\"",
        "\"model\": \"" + request.incomingModel() + "\"");
  }

  private static byte[] replace(byte[] data, String target, String replacement) {
    byte[] from = target.getBytes(StandardCharsets.UTF_8);
    byte[] to = replacement.getBytes(StandardCharsets.UTF_8);
    ByteArrayOutputStream out = null;
    int copied = 0;
    for (int i = 0; i <= data.length - from.length; i++) {
      if (Arrays.equals(data, i, i + from.length, from, 0, from.length)) {
        if (out == null) {
          out = new ByteArrayOutputStream(data.length + 16);
        }
        out.write(data, copied, i - copied);
        out.writeBytes(to);
        copied = i + from.length;
        i = copied - 1;
      }
    }
    if (out == null) {
      return data;
    }
    out.write(data, copied, data.length - copied);
    return out.toByteArray();
  }

  /**
   * Ends a routed request, whether or not its response completed; call it when the request's exchange is over. For a
   * response that never completed (client gone, upstream error) it runs the response-body hooks once with end of
   * stream set, so hooks that track in-flight requests always see an end; its duration is not recorded. The request
   * stops counting as running. Further calls do nothing.
   */
  public void finish(Routing routing) {
    if (!routing.finish()) {
      return;
    }
    if (!routing.completed()) {
      routing.complete();
      InferenceResponse response = responseOf(routing);
      response.endOfStream(true);
      runResponseBodyHooks(routing, response);
      signalFlowControl();
    }
    if (routing.started()) {
      InferenceRequest request = routing.context().request();
      metrics.requestFinished(request.incomingModel(), request.targetModel(), fairness(routing.context()),
          request.priority());
    }
  }

  /** A request's end may have made room in the pool: lets flow control dispatch what waits. */
  private void signalFlowControl() {
    if (flowController != null) {
      flowController.signal();
    }
  }

  /** The routing's response; one without headers (and without running header hooks) if none arrived. */
  private static InferenceResponse responseOf(Routing routing) {
    if (routing.response().isEmpty()) {
      routing.response(new InferenceResponse(routing.targets().get(0), Map.of()),
          routing.context().request().body().stream());
    }
    return routing.response().orElseThrow();
  }

  /** Builds {@link Director}s. Not thread-safe. */
  public static final class Builder {
    private final EndpointPickerConfig config;
    private final EndpointStore endpoints;
    private Objectives objectives;
    private ModelRewrites modelRewrites = ModelRewrites.none();
    private Ticker ticker = Ticker.system();
    private Duration stalenessThreshold = EndpointMetrics.DEFAULT_STALENESS_THRESHOLD;
    private boolean explainEveryRequest;
    private OpenTelemetry openTelemetry;
    private DecisionLog decisionLog;

    private Builder(EndpointPickerConfig config, EndpointStore endpoints) {
      this.config = Objects.requireNonNull(config, "config");
      this.endpoints = Objects.requireNonNull(endpoints, "endpoints");
    }

    /**
     * The priorities of named objectives; default: the configuration's plugin implementing {@link Objectives} (e.g.
     * {@code static-objectives}), else {@link Objectives#none()}.
     */
    public Builder objectives(Objectives value) {
      this.objectives = Objects.requireNonNull(value);
      return this;
    }

    /** Model rewrite rules, which override the rewrite header; default {@link ModelRewrites#none()}. */
    public Builder modelRewrites(ModelRewrites value) {
      this.modelRewrites = Objects.requireNonNull(value);
      return this;
    }

    /** The time source for latencies and failure-log rate limits; default {@link Ticker#system()}. */
    public Builder ticker(Ticker value) {
      this.ticker = Objects.requireNonNull(value);
      return this;
    }

    /**
     * How old an endpoint's metrics may be (by the {@link #ticker}) for it to be a candidate; default
     * {@link EndpointMetrics#DEFAULT_STALENESS_THRESHOLD}. An endpoint whose model server stopped answering scrapes,
     * or was never scraped, is left out while at least one candidate has fresh metrics, so neither scores nor prefix
     * affinity can send requests to a dead or hung server. When no candidate is fresh (scraping is off, or every
     * server is unreachable) all of them stay candidates, as in the Go EPP, which does not look at staleness.
     *
     * @throws IllegalArgumentException if not positive
     */
    public Builder stalenessThreshold(Duration value) {
      if (value.isNegative() || value.isZero()) {
        throw new IllegalArgumentException("staleness threshold must be positive, got " + value);
      }
      this.stalenessThreshold = value;
      return this;
    }

    /**
     * Whether every scheduled request carries its {@link Routing#explanation()}; default {@code false}. Explaining
     * allocates a few objects per candidate and scorer.
     */
    public Builder explainEveryRequest(boolean value) {
      this.explainEveryRequest = value;
      return this;
    }

    /**
     * Traces requests with {@code value}'s tracer provider: each routed request gets a
     * {@code gateway.request_orchestration} span (see {@link Director#routeAsync}) and its {@code traceparent} is
     * forwarded upstream. Default: no tracing, at no cost per request.
     */
    public Builder openTelemetry(OpenTelemetry value) {
      this.openTelemetry = Objects.requireNonNull(value, "openTelemetry");
      return this;
    }

    /**
     * Where to record sampled decisions, each with its {@link Explanation}; default none. See {@link DecisionLog}
     * for the sampling.
     */
    public Builder decisionLog(DecisionLog value) {
      this.decisionLog = Objects.requireNonNull(value, "decisionLog");
      return this;
    }

    /** Builds the director. */
    public Director build() {
      return new Director(this);
    }
  }

  private void runResponseBodyHooks(Routing routing, InferenceResponse response) {
    for (ResponseBody hook : responseBodies) {
      try {
        hook.responseBody(routing.context(), response);
      } catch (RuntimeException e) {
        failures.failed(hook, "ResponseBody", "skipping it", e);
      }
    }
  }

  private Candidates candidates(List<String> subsetHint) {
    Candidates pool = endpoints.snapshot();
    if (subsetHint == null) {
      return live(pool);
    }
    Set<String> addresses = new HashSet<>();
    for (String entry : subsetHint) {
      addresses.add(address(entry));
    }
    List<Endpoint> kept = new ArrayList<>();
    List<EndpointMetrics> metrics = new ArrayList<>();
    for (int i = 0; i < pool.size(); i++) {
      if (addresses.contains(pool.endpoint(i).address())) {
        kept.add(pool.endpoint(i));
        metrics.add(pool.metrics(i));
      }
    }
    return live(Candidates.of(kept, metrics));
  }

  /** The candidates with fresh metrics; all of them if every one or none is fresh (no copy then). */
  private Candidates live(Candidates candidates) {
    long now = ticker.nanos();
    int n = candidates.size();
    int fresh = 0;
    for (int i = 0; i < n; i++) {
      if (candidates.metrics(i).isFresh(now, stalenessNanos)) {
        fresh++;
      }
    }
    if (fresh == n || fresh == 0) {
      return candidates;
    }
    List<Endpoint> kept = new ArrayList<>(fresh);
    List<EndpointMetrics> metrics = new ArrayList<>(fresh);
    for (int i = 0; i < n; i++) {
      EndpointMetrics m = candidates.metrics(i);
      if (m.isFresh(now, stalenessNanos)) {
        kept.add(candidates.endpoint(i));
        metrics.add(m);
      }
    }
    return Candidates.of(kept, metrics);
  }

  /** The address of {@code ip:port}, {@code [v6]:port}, or a bare address. */
  private static String address(String entry) {
    String s = entry.trim();
    if (s.startsWith("[")) {
      int close = s.indexOf(']');
      return close < 0 ? s : s.substring(1, close);
    }
    int colon = s.lastIndexOf(':');
    return colon < 0 || s.indexOf(':') != colon ? s : s.substring(0, colon);
  }

  private static String requestId(Map<String, String> headers) {
    String id = headers.get(REQUEST_ID_HEADER);
    return id == null || id.isEmpty() ? randomUuid() : id;
  }

  /**
   * A random (version 4) UUID. A request id must be unique, not unpredictable, so this draws from
   * {@link ThreadLocalRandom} rather than {@link UUID#randomUUID()}'s shared {@code SecureRandom}, which costs a
   * lock and a system call per id.
   */
  private static String randomUuid() {
    ThreadLocalRandom random = ThreadLocalRandom.current();
    long high = (random.nextLong() & ~0xF000L) | 0x4000L;
    long low = (random.nextLong() & ~(0b11L << 62)) | (0b10L << 62);
    return new UUID(high, low).toString();
  }
}
