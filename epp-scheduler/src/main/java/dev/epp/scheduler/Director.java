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
import dev.epp.api.requestcontrol.InferenceResponse;
import dev.epp.api.requestcontrol.ModelRewrites;
import dev.epp.api.requestcontrol.Objectives;
import dev.epp.api.requestcontrol.ParsedRequest;
import dev.epp.api.requestcontrol.PreRequest;
import dev.epp.api.requestcontrol.PrepareData;
import dev.epp.api.requestcontrol.RequestParser;
import dev.epp.api.requestcontrol.ResponseBody;
import dev.epp.api.requestcontrol.ResponseHeader;
import dev.epp.api.requestcontrol.SaturationDetector;
import dev.epp.api.requestcontrol.Usage;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.SchedulingResult;
import dev.epp.scheduler.internal.FailureLog;
import dev.epp.scheduler.plugins.parser.PassthroughParser;
import dev.epp.scheduler.plugins.prefix.PrefixCacheHit;
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
import java.util.concurrent.ThreadLocalRandom;

/**
 * The in-process entry point for gateways: turns an incoming request (headers and body) into a routing decision, and
 * runs the response hooks as the response streams back. It does what the Go EPP's director does, without Envoy:
 *
 * <ol>
 *   <li>parse the body with the configured {@link RequestParser} ({@code BAD_REQUEST} if invalid or without
 *       {@code model});
 *   <li>choose the target model: a matching {@link ModelRewrites} rule (counted with
 *       {@link MetricsRecorder#recordModelRewrite}), else {@code x-gateway-model-name-rewrite}, else the requested
 *       model; look up the priority of {@code x-gateway-inference-objective};
 *   <li>narrow the pool to the gateway's subset hint ({@code SERVICE_UNAVAILABLE} if nothing is left), then to
 *       the live endpoints: those whose metrics are fresher than the staleness threshold, unless none is (see
 *       {@link Builder#stalenessThreshold});
 *   <li>shed a sheddable request (priority below 0) when the saturation detector reports 1.0 or more
 *       ({@code RESOURCE_EXHAUSTED});
 *   <li>run data producers and admission plugins, schedule, run pre-request hooks;
 *   <li>re-serialise the body only if the model was rewritten.
 * </ol>
 *
 * <p>Errors are {@link InferenceException}s whose code is the HTTP status to return. Plugin failures in hooks are
 * contained and logged at most once a minute per plugin; an admission plugin denies by throwing
 * {@link InferenceException}.
 *
 * <p><b>Threading:</b> thread-safe; each {@link Routing} is confined to its request.
 */
public final class Director {

  /** Header naming the request's objective. */
  public static final String OBJECTIVE_HEADER = "x-gateway-inference-objective";
  /** Header overriding the model the request is served with. */
  public static final String MODEL_REWRITE_HEADER = "x-gateway-model-name-rewrite";
  /** Header carrying the request id; generated when absent. */
  public static final String REQUEST_ID_HEADER = "x-request-id";

  private final EndpointStore endpoints;
  private final Scheduler scheduler;
  private final RequestParser parser;
  private final SaturationDetector saturationDetector;
  private final Objectives objectives;
  private final ModelRewrites modelRewrites;
  private final List<PrepareData> dataProducers;
  private final List<Admission> admissions;
  private final List<PreRequest> preRequests;
  private final List<ResponseHeader> responseHeaders;
  private final List<ResponseBody> responseBodies;
  private final FailureLog failures;
  private final MetricsRecorder metrics;
  private final Ticker ticker;
  private final long stalenessNanos;

  private Director(Builder builder) {
    EndpointPickerConfig config = builder.config;
    this.endpoints = builder.endpoints;
    List<Objectives> configured = config.plugins(Objectives.class);
    this.objectives = builder.objectives != null ? builder.objectives
        : configured.isEmpty() ? Objectives.none() : configured.get(0);
    this.modelRewrites = builder.modelRewrites;
    this.scheduler = new Scheduler(config, builder.ticker, builder.metrics);
    this.parser = config.parser().orElseGet(() -> new PassthroughParser(PassthroughParser.TYPE));
    this.saturationDetector = config.saturationDetector().orElse(null);
    this.dataProducers = config.plugins(PrepareData.class);
    this.admissions = config.plugins(Admission.class);
    this.preRequests = config.plugins(PreRequest.class);
    this.responseHeaders = config.plugins(ResponseHeader.class);
    this.responseBodies = config.plugins(ResponseBody.class);
    this.failures = new FailureLog(builder.ticker);
    this.metrics = builder.metrics;
    this.ticker = builder.ticker;
    this.stalenessNanos = builder.stalenessThreshold.toNanos();
    config.listenTo(endpoints);
  }

  /**
   * A builder of a director over {@code endpoints} with the plugins of {@code config}. Building registers the
   * configuration's pool listeners with {@code endpoints} ({@link EndpointPickerConfig#listenTo}).
   */
  public static Builder builder(EndpointPickerConfig config, EndpointStore endpoints) {
    return new Builder(config, endpoints);
  }

  /**
   * Routes a request with a body.
   *
   * @param headers request headers with lower-case names, control headers included
   * @param body the complete request body; not modified
   * @param subsetHint the gateway's candidate subset ({@code ip:port} entries, port ignored), or {@code null} for
   *     the whole pool
   * @throws InferenceException if the request cannot be routed
   */
  public Routing route(Map<String, String> headers, byte[] body, List<String> subsetHint) {
    ParsedRequest parsed = parser.parseRequest(body, headers);
    String incoming = parsed.model();
    if (incoming.isEmpty() && parsed.body().api() != RequestBody.Api.OPAQUE) {
      throw new InferenceException(Code.BAD_REQUEST, "model not found in request body");
    }
    ModelRewrites.Rewrite rule = incoming.isEmpty() ? null : modelRewrites.rewrite(incoming);
    String rewrite = rule != null ? rule.targetModel() : headers.get(MODEL_REWRITE_HEADER);
    String target = rewrite == null || rewrite.isEmpty() ? incoming : rewrite;
    if (rule != null) {
      metrics.recordModelRewrite(rule.rule(), incoming, target);
    }
    String objective = headers.get(OBJECTIVE_HEADER);
    InferenceRequest request = new InferenceRequest(
        requestId(headers),
        incoming,
        target,
        headers,
        parsed.body(),
        objective == null ? 0 : objectives.priority(objective),
        body.length);
    RequestContext context = new RequestContext(request);

    Candidates candidates = candidates(subsetHint);
    if (candidates.size() == 0) {
      throw new InferenceException(Code.SERVICE_UNAVAILABLE, "failed to find endpoint candidates for serving the request");
    }
    if (request.isSheddable() && saturationDetector != null && saturationDetector.saturation(candidates) >= 1.0) {
      throw new InferenceException(Code.RESOURCE_EXHAUSTED, "system saturated, sheddable request dropped");
    }
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
    SchedulingResult result = scheduler.schedule(context, candidates);
    for (PreRequest hook : preRequests) {
      try {
        hook.preRequest(context, result);
      } catch (RuntimeException e) {
        failures.failed(hook, "PreRequest", "skipping it", e);
      }
    }
    PrefixCacheHit hit = context.get(PrefixCacheHit.KEY);
    if (hit != null) {
      metrics.recordPrefixCacheMatch(hit.hitBytes(), hit.totalBytes());
    }
    boolean rewritten = !incoming.isEmpty() && !incoming.equals(target);
    byte[] forwarded = rewritten ? parser.withModel(body, target) : body;
    return new Routing(context, result, result.targets(), forwarded, rewritten);
  }

  /**
   * Routes a request without a body (e.g. {@code GET /v1/models}) to a uniformly random live endpoint of the pool,
   * unscheduled, as the Go EPP does.
   *
   * @throws InferenceException {@code INTERNAL} if the pool is empty
   */
  public Routing routeHeaderOnly(Map<String, String> headers) {
    Candidates pool = live(endpoints.snapshot());
    if (pool.size() == 0) {
      throw new InferenceException(Code.INTERNAL, "no pods available in datastore");
    }
    Endpoint target = pool.endpoint(ThreadLocalRandom.current().nextInt(pool.size()));
    InferenceRequest request = InferenceRequest.builder().requestId(requestId(headers)).headers(headers).build();
    return new Routing(new RequestContext(request), null, List.of(target), new byte[0], false);
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
   * Runs the response-body hooks for one chunk (or the whole buffered body), after parsing usage from it.
   *
   * @return the usage the chunk reported, or {@code null}
   */
  public Usage responseBody(Routing routing, byte[] chunk, boolean endOfStream) {
    InferenceResponse response = responseOf(routing);
    Usage usage = parser.parseResponse(chunk, routing.streaming());
    if (usage != null) {
      response.usage(usage);
    }
    response.endOfStream(endOfStream);
    runResponseBodyHooks(routing, response);
    if (endOfStream) {
      routing.complete();
    }
    return usage;
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
   * Ends a request whose response never completed (client gone, upstream error): runs the response-body hooks once
   * with end of stream set, so hooks that track in-flight requests always see an end. Does nothing for a completed
   * response. Call it once per routed request when its stream ends.
   */
  public void finish(Routing routing) {
    if (routing.completed()) {
      return;
    }
    routing.complete();
    InferenceResponse response = responseOf(routing);
    response.endOfStream(true);
    runResponseBodyHooks(routing, response);
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
    private MetricsRecorder metrics = MetricsRecorder.noop();
    private Duration stalenessThreshold = EndpointMetrics.DEFAULT_STALENESS_THRESHOLD;

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

    /** Where scheduling metrics go; default {@link MetricsRecorder#noop()}. */
    public Builder metrics(MetricsRecorder value) {
      this.metrics = Objects.requireNonNull(value);
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
