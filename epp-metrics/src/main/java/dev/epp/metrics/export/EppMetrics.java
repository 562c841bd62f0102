package dev.epp.metrics.export;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.EndpointStore;
import dev.epp.api.MetricsRecorder;
import dev.epp.api.MetricsRecorder.PrefixIndexSync;
import dev.epp.api.Ticker;
import dev.epp.api.TypedName;
import dev.epp.api.scheduling.Candidates;
import dev.epp.metrics.export.internal.BuildInfo;
import dev.epp.metrics.export.internal.ModelLabels;
import io.prometheus.client.Collector;
import io.prometheus.client.CollectorRegistry;
import io.prometheus.client.Counter;
import io.prometheus.client.CounterMetricFamily;
import io.prometheus.client.Gauge;
import io.prometheus.client.GaugeMetricFamily;
import io.prometheus.client.Histogram;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;
import java.util.function.LongSupplier;

/**
 * The EPP's own Prometheus metrics, with the names, types, labels, HELP texts and buckets of the Go EPP v1.5 (GIE
 * {@code pkg/epp/metrics}), so its dashboards and alerts keep working: the {@code inference_objective_*} request
 * families, the {@code inference_pool_*} pool gauges, and the {@code inference_extension_*} scheduler, plugin, prefix
 * indexer, model-rewrite and build-info families; llm-d's {@code llm_d_epp_disagg_decision_total} and
 * {@code llm_d_epp_kv_cache_events_messages_received_total}, with two KV-event families of this EPP's own
 * ({@code llm_d_epp_kv_cache_events_dropped_total}, {@code llm_d_epp_kv_cache_events_sequence_gaps_total}; labelled
 * by endpoint name, which the pool, not clients, chooses). One more family is this EPP's own,
 * {@code inference_extension_grpc_malformed_input_total}, shown once it is not 0. (Latency-predictor families are not
 * registered: nothing in this EPP produces them yet.)
 *
 * <p>As llm-d v0.10 does, each GIE request, pool, scheduler, plugin, model-rewrite and info family is also written
 * under its {@code llm_d_epp_} name with llm-d's labels, HELP text and buckets (the request families gain
 * {@code fairness_id} and {@code priority}); the GIE families' output is unchanged. Only under {@code llm_d_epp_}:
 * the pool's {@code std_dev_*} gauges, {@code request_ttft_seconds}, {@code request_streaming_itl_seconds},
 * {@code request_streaming_tpot_seconds}, and, after {@link #enableGrpcStreamMetrics()}, the {@code extproc_stream*}
 * families. The flow-control families are llm-d's, with GIE's names alongside where GIE has them.
 *
 * <p>Label names are declared in alphabetical order, the order in which Go's client writes them; served by
 * {@link MetricsExporter}, the page matches the Go EPP's line for line.
 *
 * <p>The model labels that clients choose ({@code model_name}, {@code target_model_name}, {@code target_model}) are
 * bounded: values are cut to {@value ModelLabels#MAX_LENGTH} characters, and once {@value ModelLabels#MAX_PAIRS}
 * distinct (model, target) pairs have been recorded, later pairs are recorded as {@code "other"}, so a client sending
 * endless model names cannot grow the page or the heap without bound. {@code fairness_id} is bounded alike, on its
 * own.
 *
 * <p>Pool gauges follow the Go EPP: after {@link #monitorPool}, every refresh interval (default 5 s)
 * {@code inference_pool_ready_pods} counts endpoints whose metrics are fresher than the staleness threshold (default
 * 2 s) and the three averages are computed over those endpoints; with no fresh endpoint the averages keep their last
 * values. {@code inference_pool_per_pod_queue_size} is computed at scrape time for every endpoint of the pool. Before
 * a pool is monitored there are no pool series.
 *
 * <p><b>Threading:</b> thread-safe; recording methods are cheap and never block.
 */
public final class EppMetrics implements MetricsRecorder, AutoCloseable {

  /** Default time between pool-gauge refreshes (the Go EPP's {@code --refresh-prometheus-metrics-interval}). */
  public static final Duration DEFAULT_POOL_REFRESH_INTERVAL = Duration.ofSeconds(5);

  private static final double[] GENERAL = {0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5,
      6, 8, 10, 15, 20, 30, 45, 60, 120, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700, 3600};
  private static final double[] REQUEST_SIZE = {64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536,
      131072, 262144, 524288, 1048576, 2097152, 4194304, 8388608, 16777216, 33554432, 67108864, 134217728,
      268435456, 536870912, 1073741824};
  private static final double[] RESPONSE_SIZE = {1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384,
      32778, 65536};
  private static final double[] INPUT_TOKENS = {1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384,
      32778, 65536, 131072, 262144, 524288, 1048576};
  private static final double[] OUTPUT_TOKENS = {1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192};
  private static final double[] NTPOT = {0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0};
  private static final double[] FAST = {0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1};
  private static final double[] RATIO = {0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0};
  private static final double[] HIT_BYTES = {0, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768,
      65536};
  private static final double[] QUEUE_DURATION = {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
      1.0, 2.5, 5.0, 10.0, 30.0, 60.0};

  private static final double[] TTFT = {0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8,
      10, 15, 20, 30, 45, 60, 120};
  private static final double[] TPOT = {0.0005, 0.00205, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.125, 0.15, 0.2,
      0.3, 0.4, 0.5, 0.6, 0.8, 1, 2};
  private static final double[] ITL = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1,
      2};
  private static final double[] STREAM_DURATION = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300,
      600};

  private static final double NANOS_PER_SECOND = 1e9;
  /** The {@code priority} label of priorities -128 to 127, made once: recording them allocates no string. */
  private static final String[] BANDS = new String[256];

  static {
    for (int i = 0; i < BANDS.length; i++) {
      BANDS[i] = Integer.toString(i - 128);
    }
  }
  private static final String LLMD = "llm_d_epp_";

  private final MetricsRegistry registry;
  private final CollectorRegistry collectors;
  private final ModelLabels modelLabels = new ModelLabels();

  // inference_objective_*: label order in calls is always (model_name, target_model_name[, third]) after sorting.
  private final Counter requestTotal;
  private final Counter requestErrorTotal;
  private final Histogram requestDuration;
  private final Histogram requestSizes;
  private final Histogram responseSizes;
  private final Histogram inputTokens;
  private final Histogram outputTokens;
  private final Histogram promptCachedTokens;
  private final Gauge runningRequests;
  private final Histogram normalizedTimePerOutputToken;

  // llm_d_epp_request_*: label order in calls is (fairness_id, model_name, priority[, streaming], target_model_name)
  private final Counter llmdRequestTotal;
  private final Counter llmdRequestErrorTotal;
  private final Histogram llmdRequestDuration;
  private final Histogram llmdRequestSize;
  private final Histogram llmdResponseSize;
  private final Histogram llmdInputTokens;
  private final Histogram llmdOutputTokens;
  private final Histogram llmdCachedTokens;
  private final Gauge llmdRunningRequests;
  private final Histogram llmdNtpot;
  private final Histogram llmdTtft;
  private final Histogram llmdStreamingTpot;
  private final Histogram llmdStreamingItl;

  // inference_pool_*
  private final Gauge poolAverageKvCache;
  private final Gauge poolAverageQueueSize;
  private final Gauge poolAverageRunningRequests;
  private final Gauge poolReadyPods;
  private final Gauge llmdPoolAverageKvCache;
  private final Gauge llmdPoolAverageQueueSize;
  private final Gauge llmdPoolAverageRunningRequests;
  private final Gauge llmdPoolStdDevKvCache;
  private final Gauge llmdPoolStdDevQueueSize;
  private final Gauge llmdPoolStdDevRunningRequests;
  private final Gauge llmdPoolReadyEndpoints;

  // inference_extension_*
  private final Lazy<Histogram> schedulerE2e;
  private final Lazy<Histogram> llmdSchedulerE2e;
  private final Counter schedulerAttempts;
  private final Counter llmdSchedulerAttempts;
  private final Counter modelRewriteDecisions;
  private final Counter llmdModelRewriteDecisions;
  private final Histogram pluginDuration;
  private final Histogram llmdPluginDuration;
  private final List<LongSupplier> prefixIndexSizes = new CopyOnWriteArrayList<>();
  private final Lazy<Histogram> prefixHitRatio;
  private final Lazy<Histogram> prefixHitBytes;
  private final List<KvCacheIndexStats> kvCacheIndexes = new CopyOnWriteArrayList<>();

  // llm_d_* (llm-d's router)
  private final Counter disaggDecisions;
  private final Counter schedulerDisaggDecisions;
  private final Counter kvEventMessages;
  private final Counter kvEventsDropped;
  private final Counter kvEventSequenceGaps;

  // flow control: llm-d's llm_d_epp_flow_control_* families, and GIE v1.5's inference_extension_* names alongside
  private final ModelLabels fairnessLabels = new ModelLabels(); // bounds client-chosen fairness IDs alike
  private final Counter flowControlRequests;
  private final Histogram[] flowControlQueueDuration;
  private final Gauge[] flowControlQueueSize;
  private final Gauge[] flowControlQueueBytes;
  private final Gauge flowControlSaturation;
  private final Gauge gieFlowControlSaturation;
  private final Gauge flowControlCapacityRequests;
  private final Gauge flowControlCapacityBytes;
  private final Counter tokenizationFailures;
  private final Counter configReloads;
  private final Map<PrefixIndexSync, Counter> prefixIndexSync = new EnumMap<>(PrefixIndexSync.class);

  private volatile StreamMetrics streams;
  private volatile Pool pool;
  private volatile LongSupplier malformedGrpcInput = () -> 0;
  private ScheduledFuture<?> poolRefresh;
  private ScheduledExecutorService ownedRefresher;

  private EppMetrics(MetricsRegistry registry) {
    this.registry = registry;
    this.collectors = registry.collectorRegistry();
    List<String> model = List.of("model_name", "target_model_name");
    requestTotal = counter("inference_objective_request_total",
        "Counter of inference objective requests broken out for each model and target model.",
        "model_name", "priority", "target_model_name");
    requestErrorTotal = counter("inference_objective_request_error_total",
        "Counter of inference objective requests errors broken out for each model and target model.",
        "error_code", "model_name", "target_model_name");
    requestDuration = histogram("inference_objective_request_duration_seconds",
        "Inference objective response latency distribution in seconds for each model and target model.", GENERAL,
        model);
    requestSizes = histogram("inference_objective_request_sizes",
        "Inference objective requests size distribution in bytes for each model and target model.", REQUEST_SIZE,
        model);
    responseSizes = histogram("inference_objective_response_sizes",
        "Inference objective responses size distribution in bytes for each model and target model.", RESPONSE_SIZE,
        model);
    inputTokens = histogram("inference_objective_input_tokens",
        "Inference objective input token count distribution for requests in each model.", INPUT_TOKENS, model);
    outputTokens = histogram("inference_objective_output_tokens",
        "Inference objective output token count distribution for requests in each model.", OUTPUT_TOKENS, model);
    promptCachedTokens = histogram("inference_objective_prompt_cached_tokens",
        "Inference objective prompt cached token count distribution for requests in each model.", INPUT_TOKENS,
        model);
    runningRequests = gauge("inference_objective_running_requests",
        "Inference objective number of running requests in each model.", "model_name");
    normalizedTimePerOutputToken = histogram("inference_objective_normalized_time_per_output_token_seconds",
        "Inference objective latency divided by number of output tokens in seconds for each model and target model.",
        NTPOT, model);

    List<String> llmd = List.of("fairness_id", "model_name", "priority", "target_model_name");
    llmdRequestTotal = counter(LLMD + "request_total", "Total number of processed requests.",
        llmd.toArray(new String[0]));
    llmdRequestErrorTotal = counter(LLMD + "request_error_total", "Total number of request errors.",
        "error_code", "fairness_id", "model_name", "priority", "target_model_name");
    llmdRequestDuration = histogram(LLMD + "request_duration_seconds",
        "End-to-end request latency distribution in seconds.", GENERAL, llmd);
    llmdRequestSize = histogram(LLMD + "request_size_bytes", "Incoming request body size distribution in bytes.",
        REQUEST_SIZE, llmd);
    llmdResponseSize = histogram(LLMD + "response_size_bytes", "Outgoing response body size distribution in bytes.",
        RESPONSE_SIZE, llmd);
    llmdInputTokens = histogram(LLMD + "request_input_tokens", "Input token count distribution per request.",
        INPUT_TOKENS, llmd);
    llmdOutputTokens = histogram(LLMD + "request_output_tokens", "Output token count distribution per request.",
        OUTPUT_TOKENS, llmd);
    llmdCachedTokens = histogram(LLMD + "request_cached_tokens", "Distribution of prompt tokens read from cache per"
        + " request, as reported by the model server in the response.", INPUT_TOKENS, llmd);
    llmdRunningRequests = gauge(LLMD + "request_running", "Current number of active running requests.",
        llmd.toArray(new String[0]));
    llmdNtpot = histogram(LLMD + "request_ntpot_seconds", "Normalized time per output token in seconds (end-to-end"
        + " latency divided by output token count).", NTPOT, llmd);
    llmdTtft = histogram(LLMD + "request_ttft_seconds", "Time to first token in seconds, measured from request"
        + " received to first response byte. For non-streaming requests, this equals total request duration.", TTFT,
        List.of("fairness_id", "model_name", "priority", "streaming", "target_model_name"));
    llmdStreamingTpot = histogram(LLMD + "request_streaming_tpot_seconds", "Average time per output token in"
        + " seconds for streaming requests, computed as (e2e - TTFT) / (output_tokens - 1).", TPOT, llmd);
    llmdStreamingItl = histogram(LLMD + "request_streaming_itl_seconds", "Inter-token latency in seconds for"
        + " streaming requests, measured as the time between consecutive response body chunks.", ITL, llmd);

    poolAverageKvCache = gauge("inference_pool_average_kv_cache_utilization",
        "The average kv cache utilization for an inference server pool.", "name");
    poolAverageQueueSize = gauge("inference_pool_average_queue_size",
        "The average number of requests pending in the model server queue.", "name");
    poolAverageRunningRequests = gauge("inference_pool_average_running_requests",
        "The average number of running requests across model servers in the pool.", "name");
    poolReadyPods = gauge("inference_pool_ready_pods",
        "The number of ready pods in the inference server pool.", "name");
    llmdPoolAverageKvCache = gauge(LLMD + "average_kv_cache_utilization",
        "The average kv cache utilization for an inference server pool.", "name");
    llmdPoolAverageQueueSize = gauge(LLMD + "average_queue_size",
        "The average number of requests pending in the model server queue.", "name");
    llmdPoolAverageRunningRequests = gauge(LLMD + "average_running_requests",
        "The average number of running requests across model servers in the pool.", "name");
    llmdPoolStdDevKvCache = gauge(LLMD + "std_dev_kv_cache_utilization",
        "The standard deviation kv cache utilization for an inference server pool.", "name");
    llmdPoolStdDevQueueSize = gauge(LLMD + "std_dev_queue_size",
        "The standard deviation number of requests pending in the model server queue.", "name");
    llmdPoolStdDevRunningRequests = gauge(LLMD + "std_dev_running_requests",
        "The standard deviation number of running requests across model servers in the pool.", "name");
    llmdPoolReadyEndpoints = gauge(LLMD + "ready_endpoints",
        "The number of ready endpoints in the inference server pool.", "name");
    new PerEndpointQueueSize().register(collectors);

    schedulerE2e = new Lazy<>(() -> histogram("inference_extension_scheduler_e2e_duration_seconds",
        "End-to-end scheduling latency distribution in seconds.", FAST, List.of()));
    llmdSchedulerE2e = new Lazy<>(() -> histogram(LLMD + "scheduler_e2e_duration_seconds",
        "End-to-end scheduling latency distribution in seconds.", FAST, List.of()));
    schedulerAttempts = counter("inference_extension_scheduler_attempts_total",
        "Total number of scheduling attempts.", "namespace", "pod_name", "port", "status", "target_model_name");
    llmdSchedulerAttempts = counter(LLMD + "scheduler_attempts_total", "Total number of scheduling attempts.",
        "endpoint_name", "namespace", "port", "status", "target_model_name");
    modelRewriteDecisions = counter("inference_extension_model_rewrite_decisions_total",
        "Total number of inference model rewrite decisions.", "model_name", "model_rewrite_name", "target_model");
    llmdModelRewriteDecisions = counter(LLMD + "model_rewrite_decisions_total",
        "Total number of inference model rewrite decisions.", "model_name", "model_rewrite_name", "target_model");
    disaggDecisions = counter("llm_d_epp_disagg_decision_total",
        "Total number of disaggregation routing decisions made", "plugin_name", "plugin_type", "model_name",
        "decision_type");
    schedulerDisaggDecisions = counter("llm_d_inference_scheduler_disagg_decision_total",
        "[Deprecated: Use llm_d_epp_disagg_decision_total] Total number of disaggregation routing decisions made",
        "model_name", "decision_type");
    kvEventMessages = counter("llm_d_epp_kv_cache_events_messages_received_total",
        "Total number of messages received from ZMQ subscribers", "pod_identifier");
    kvEventsDropped = counter("llm_d_epp_kv_cache_events_dropped_total",
        "Total number of KV-event messages (or, for reason unknown_event, events) dropped, by reason",
        "pod_identifier", "reason");
    kvEventSequenceGaps = counter("llm_d_epp_kv_cache_events_sequence_gaps_total",
        "Total number of KV-event sequence gaps (lost events) per subscriber", "pod_identifier");
    // label names sorted, as the Go client prints them
    List<String> queued = List.of("fairness_id", "inference_pool", "model_name", "priority", "target_model_name");
    List<String> outcome = List.of("fairness_id", "inference_pool", "model_name", "outcome", "priority",
        "target_model_name");
    flowControlRequests = counter("llm_d_epp_flow_control_requests_total",
        "Total number of requests processed by the Flow Control layer, by final outcome.", "inference_pool",
        "outcome", "priority");
    flowControlQueueDuration = new Histogram[] {
        histogram("llm_d_epp_flow_control_request_queue_duration_seconds",
            "Distribution of total time requests spend in the Flow Control layer (from enqueue to final outcome).",
            QUEUE_DURATION, outcome),
        histogram("inference_extension_flow_control_request_queue_duration_seconds",
            "[Deprecated: Use llm_d_epp_flow_control_request_queue_duration_seconds] Distribution of total time"
                + " requests spend in the Flow Control layer (from enqueue to final outcome).",
            QUEUE_DURATION, outcome)};
    flowControlQueueSize = new Gauge[] {
        gauge("llm_d_epp_flow_control_queue_size",
            "Current number of requests actively held in the Flow Control queue.", queued.toArray(new String[0])),
        gauge("inference_extension_flow_control_queue_size", "[Deprecated: Use llm_d_epp_flow_control_queue_size]"
            + " Current number of requests actively held in the Flow Control queue.", queued.toArray(new String[0]))};
    flowControlQueueBytes = new Gauge[] {
        gauge("llm_d_epp_flow_control_queue_bytes",
            "Current total size in bytes of requests actively held in the Flow Control queue.",
            queued.toArray(new String[0])),
        gauge("inference_extension_flow_control_queue_bytes", "[Deprecated: Use llm_d_epp_flow_control_queue_bytes]"
            + " Current total size in bytes of requests actively held in the Flow Control queue.",
            queued.toArray(new String[0]))};
    flowControlSaturation = gauge("llm_d_epp_flow_control_pool_saturation",
        "Pool saturation signal gating Flow Control dispatch; 1.0 is the gating set point.", "inference_pool",
        "stage");
    gieFlowControlSaturation = gauge("inference_extension_flow_control_pool_saturation",
        "[Deprecated: Use llm_d_epp_flow_control_pool_saturation] Pool saturation signal gating Flow Control"
            + " dispatch.", "inference_pool");
    flowControlCapacityRequests = gauge("llm_d_epp_flow_control_capacity_utilization_requests",
        "Fraction of a priority band's effective request-count capacity currently occupied (0.0-1.0).",
        "inference_pool", "priority");
    flowControlCapacityBytes = gauge("llm_d_epp_flow_control_capacity_utilization_bytes",
        "Fraction of a priority band's effective byte-size capacity currently occupied (0.0-1.0).",
        "inference_pool", "priority");
    tokenizationFailures = counter("llm_d_epp_tokenization_failures_total",
        "Total number of requests a token producer could not tokenize", "plugin_name", "plugin_type", "reason");
    configReloads = counter("llm_d_epp_config_reloads_total",
        "Configuration file reloads, applied (success) or refused (failure) (this EPP's own metric)", "result");
    for (PrefixIndexSync sync : PrefixIndexSync.values()) {
      String name = sync.name().toLowerCase(Locale.ROOT);
      prefixIndexSync.put(sync, counter("llm_d_epp_prefix_index_sync_" + name + "_total",
          "Prefix index inserts shared between EPP replicas, " + name + " (this EPP's own metric)",
          "plugin_name", "plugin_type"));
    }
    pluginDuration = histogram("inference_extension_plugin_duration_seconds",
        "Plugin processing latency distribution in seconds for each extension point, plugin type and plugin name.",
        FAST, List.of("extension_point", "plugin_name", "plugin_type"));
    llmdPluginDuration = histogram(LLMD + "plugin_duration_seconds",
        "Plugin processing latency distribution in seconds for each extension point, plugin type and plugin name.",
        FAST, List.of("extension_point", "plugin_name", "plugin_type"));
    gauge("inference_extension_prefix_indexer_size", "Size of the prefix indexer.").setChild(new Gauge.Child() {
      @Override
      public double get() {
        long sum = 0;
        for (LongSupplier size : prefixIndexSizes) {
          sum += size.getAsLong();
        }
        return sum;
      }
    });
    new MalformedGrpcInput().register(collectors);
    new KvCacheIndex().register(collectors);
    prefixHitRatio = new Lazy<>(() -> histogram("inference_extension_prefix_indexer_hit_ratio",
        "Ratio of prefix length matched to total prefix length in the cache lookup.", RATIO, List.of()));
    prefixHitBytes = new Lazy<>(() -> histogram("inference_extension_prefix_indexer_hit_bytes",
        "Length of the prefix match in number of bytes in the cache lookup.", HIT_BYTES, List.of()));

    BuildInfo build = BuildInfo.load();
    gauge("inference_extension_info", "General information of the current build of Inference Extension.",
        "build_ref", "commit").labels(build.buildRef(), build.commit()).set(1);
    gauge(LLMD + "info", "General information of the current build of Inference Extension.",
        "build_ref", "commit").labels(build.buildRef(), build.commit()).set(1);
  }

  /** The EPP's metrics in a new registry that also holds the JVM and process metrics ({@code jvm_*}, {@code process_*}). */
  public static EppMetrics create() {
    return new EppMetrics(MetricsRegistry.withJvmMetrics());
  }

  /**
   * The EPP's metrics registered into {@code registry}, next to what else it holds.
   *
   * @throws IllegalArgumentException if {@code registry} already holds one of the EPP's families
   */
  public static EppMetrics create(MetricsRegistry registry) {
    return new EppMetrics(Objects.requireNonNull(registry, "registry"));
  }

  /** The registry holding these metrics; serve it with {@link MetricsExporter} or write it yourself. */
  public MetricsRegistry registry() {
    return registry;
  }

  // ---- request path -------------------------------------------------------------------------------------------

  @Override
  public void recordRequest(String model, String targetModel, int priority) {
    recordRequest(model, targetModel, "", priority);
  }

  @Override
  public void recordRequest(String model, String targetModel, String fairnessId, int priority) {
    ModelLabels.Pair labels = modelLabels.pair(model, targetModel);
    String band = band(priority);
    requestTotal.labels(labels.model(), band, labels.target()).inc();
    llmdRequestTotal.labels(fairnessLabels.model(fairnessId), labels.model(), band, labels.target()).inc();
  }

  @Override
  public void recordRequestError(String model, String targetModel, String errorCode) {
    recordRequestError(model, targetModel, "", "", errorCode);
  }

  @Override
  public void recordRequestError(String model, String targetModel, String fairnessId, int priority,
      String errorCode) {
    recordRequestError(model, targetModel, fairnessId, band(priority), errorCode);
  }

  private void recordRequestError(String model, String targetModel, String fairnessId, String priority,
      String errorCode) {
    if (!errorCode.isEmpty()) {
      ModelLabels.Pair labels = modelLabels.pair(model, targetModel);
      requestErrorTotal.labels(errorCode, labels.model(), labels.target()).inc();
      llmdRequestErrorTotal.labels(errorCode, fairnessLabels.model(fairnessId), labels.model(), priority,
          labels.target()).inc();
    }
  }

  @Override
  public void recordRequestSize(String model, String targetModel, long bytes) {
    observe(requestSizes, llmdRequestSize, model, targetModel, "", "", bytes);
  }

  @Override
  public void recordRequestSize(String model, String targetModel, String fairnessId, int priority, long bytes) {
    observe(requestSizes, llmdRequestSize, model, targetModel, fairnessId, band(priority), bytes);
  }

  @Override
  public void recordResponseSize(String model, String targetModel, long bytes) {
    observe(responseSizes, llmdResponseSize, model, targetModel, "", "", bytes);
  }

  @Override
  public void recordResponseSize(String model, String targetModel, String fairnessId, int priority, long bytes) {
    observe(responseSizes, llmdResponseSize, model, targetModel, fairnessId, band(priority), bytes);
  }

  @Override
  public void recordTokens(String model, String targetModel, long input, long output) {
    recordTokens(model, targetModel, "", "", input, output);
  }

  @Override
  public void recordTokens(String model, String targetModel, String fairnessId, int priority, long input,
      long output) {
    recordTokens(model, targetModel, fairnessId, band(priority), input, output);
  }

  private void recordTokens(String model, String targetModel, String fairnessId, String priority, long input,
      long output) {
    if (input > 0) {
      observe(inputTokens, llmdInputTokens, model, targetModel, fairnessId, priority, input);
    }
    if (output > 0) {
      observe(outputTokens, llmdOutputTokens, model, targetModel, fairnessId, priority, output);
    }
  }

  @Override
  public void recordPromptCachedTokens(String model, String targetModel, long cachedTokens) {
    observe(promptCachedTokens, llmdCachedTokens, model, targetModel, "", "", cachedTokens);
  }

  @Override
  public void recordPromptCachedTokens(String model, String targetModel, String fairnessId, int priority,
      long cachedTokens) {
    observe(promptCachedTokens, llmdCachedTokens, model, targetModel, fairnessId, band(priority),
        cachedTokens);
  }

  @Override
  public void recordRequestDuration(String model, String targetModel, long nanos, long outputTokens) {
    recordRequestDuration(model, targetModel, "", "", nanos, outputTokens);
  }

  @Override
  public void recordRequestDuration(String model, String targetModel, String fairnessId, int priority, long nanos,
      long outputTokens) {
    recordRequestDuration(model, targetModel, fairnessId, band(priority), nanos, outputTokens);
  }

  private void recordRequestDuration(String model, String targetModel, String fairnessId, String priority,
      long nanos, long outputTokens) {
    if (nanos <= 0) {
      return;
    }
    double seconds = nanos / NANOS_PER_SECOND;
    observe(requestDuration, llmdRequestDuration, model, targetModel, fairnessId, priority, seconds);
    if (outputTokens > 0) {
      observe(normalizedTimePerOutputToken, llmdNtpot, model, targetModel, fairnessId, priority,
          seconds / outputTokens);
    }
  }

  /** The {@code priority} label of {@code priority}. */
  private static String band(int priority) {
    return priority >= -128 && priority < 128 ? BANDS[priority + 128] : Integer.toString(priority);
  }

  /** Observes {@code value} in the GIE family {@code gie} and its llm-d twin {@code llmd}. */
  private void observe(Histogram gie, Histogram llmd, String model, String targetModel, String fairnessId,
      String priority, double value) {
    ModelLabels.Pair labels = modelLabels.pair(model, targetModel);
    gie.labels(labels.model(), labels.target()).observe(value);
    llmd.labels(fairnessLabels.model(fairnessId), labels.model(), priority, labels.target()).observe(value);
  }

  @Override
  public void recordTimeToFirstToken(String model, String targetModel, String fairnessId, int priority,
      boolean streaming, long nanos) {
    if (nanos > 0) {
      ModelLabels.Pair labels = modelLabels.pair(model, targetModel);
      llmdTtft.labels(fairnessLabels.model(fairnessId), labels.model(), band(priority),
          streaming ? "true" : "false", labels.target()).observe(nanos / NANOS_PER_SECOND);
    }
  }

  @Override
  public void recordInterTokenLatency(String model, String targetModel, String fairnessId, int priority,
      long nanos) {
    if (nanos >= 0) {
      ModelLabels.Pair labels = modelLabels.pair(model, targetModel);
      llmdStreamingItl.labels(fairnessLabels.model(fairnessId), labels.model(), band(priority),
          labels.target()).observe(nanos / NANOS_PER_SECOND);
    }
  }

  @Override
  public void recordTimePerOutputToken(String model, String targetModel, String fairnessId, int priority,
      long nanosAfterFirstToken, long outputTokens) {
    if (outputTokens > 1 && nanosAfterFirstToken > 0) {
      ModelLabels.Pair labels = modelLabels.pair(model, targetModel);
      llmdStreamingTpot.labels(fairnessLabels.model(fairnessId), labels.model(), band(priority),
          labels.target()).observe(nanosAfterFirstToken / NANOS_PER_SECOND / (outputTokens - 1));
    }
  }

  @Override
  public void requestStarted(String model) {
    running(model, model, "", "", 1);
  }

  @Override
  public void requestStarted(String model, String targetModel, String fairnessId, int priority) {
    running(model, targetModel, fairnessId, band(priority), 1);
  }

  @Override
  public void requestFinished(String model) {
    running(model, model, "", "", -1);
  }

  @Override
  public void requestFinished(String model, String targetModel, String fairnessId, int priority) {
    running(model, targetModel, fairnessId, band(priority), -1);
  }

  private void running(String model, String targetModel, String fairnessId, String priority, int delta) {
    if (!model.isEmpty()) {
      runningRequests.labels(modelLabels.model(model)).inc(delta);
      ModelLabels.Pair labels = modelLabels.pair(model, targetModel);
      llmdRunningRequests.labels(fairnessLabels.model(fairnessId), labels.model(), priority, labels.target())
          .inc(delta);
    }
  }

  /**
   * Registers llm-d's ext_proc stream families ({@code llm_d_epp_extproc_streams_inflight},
   * {@code _streams_total}, {@code _stream_duration_seconds}; its {@code --enable-grpc-stream-metrics}); until then
   * {@link #extProcStreamStarted()} and {@link #extProcStreamFinished} record nothing and the families are absent.
   * Idempotent.
   */
  public synchronized void enableGrpcStreamMetrics() {
    if (streams == null) {
      streams = new StreamMetrics(
          Gauge.build(LLMD + "extproc_streams_inflight", "[ALPHA] Number of ext_proc gRPC streams currently open.")
              .register(collectors),
          counter(LLMD + "extproc_streams_total", "Total ext_proc gRPC streams completed, by gRPC status code.",
              "code"),
          Histogram.build(LLMD + "extproc_stream_duration_seconds",
              "[ALPHA] Duration an ext_proc gRPC stream stays open, in seconds.")
              .buckets(STREAM_DURATION).register(collectors));
    }
  }

  @Override
  public void extProcStreamStarted() {
    StreamMetrics s = streams;
    if (s != null) {
      s.inflight.inc();
    }
  }

  @Override
  public void extProcStreamFinished(String code, long nanos) {
    StreamMetrics s = streams;
    if (s != null) {
      s.inflight.dec();
      s.total.labels(code).inc();
      s.duration.observe(nanos / NANOS_PER_SECOND);
    }
  }

  @Override
  public void recordSchedulerLatency(long nanos) {
    schedulerE2e.get().observe(nanos / NANOS_PER_SECOND);
    llmdSchedulerE2e.get().observe(nanos / NANOS_PER_SECOND);
  }

  @Override
  public void recordSchedulingAttempt(String targetModel, Endpoint primary) {
    if (primary != null) {
      // The pool has no namespace of its own here; Go's label is the pod's namespace.
      String port = Integer.toString(primary.port());
      String target = modelLabels.target(targetModel);
      schedulerAttempts.labels("", primary.name(), port, "success", target).inc();
      llmdSchedulerAttempts.labels(primary.name(), "", port, "success", target).inc();
    } else {
      String target = modelLabels.target(targetModel);
      schedulerAttempts.labels("", "", "", "failure", target).inc();
      llmdSchedulerAttempts.labels("", "", "", "failure", target).inc();
    }
  }

  @Override
  public void recordDisaggDecision(TypedName plugin, String targetModel, String decisionType) {
    String model = targetModel.isEmpty() ? "unknown" : modelLabels.target(targetModel);
    disaggDecisions.labels(plugin.name(), plugin.type(), model, decisionType).inc();
    schedulerDisaggDecisions.labels(model, decisionType).inc();
  }

  @Override
  public void recordKvEventMessage(String endpoint) {
    kvEventMessages.labels(endpoint).inc();
  }

  @Override
  public void recordKvEventDropped(String endpoint, String reason) {
    kvEventsDropped.labels(endpoint, reason).inc();
  }

  @Override
  public void recordKvEventSequenceGap(String endpoint) {
    kvEventSequenceGaps.labels(endpoint).inc();
  }

  @Override
  public void recordFlowControlOutcome(String fairnessId, int priority, String modelName, String targetModelName,
      String outcome, long queueNanos) {
    String band = band(priority);
    String pool = poolName();
    flowControlRequests.labels(pool, outcome, band).inc();
    ModelLabels.Pair models = modelLabels.pair(modelName, targetModelName);
    String fairness = fairnessLabels.model(fairnessId);
    for (Histogram family : flowControlQueueDuration) {
      family.labels(fairness, pool, models.model(), outcome, band, models.target())
          .observe(queueNanos / NANOS_PER_SECOND);
    }
  }

  @Override
  public void recordFlowControlQueued(String fairnessId, int priority, String modelName, String targetModelName,
      int requests, long bytes) {
    ModelLabels.Pair models = modelLabels.pair(modelName, targetModelName);
    String[] labels = {fairnessLabels.model(fairnessId), poolName(), models.model(), band(priority),
        models.target()};
    for (Gauge family : flowControlQueueSize) {
      family.labels(labels).inc(requests);
    }
    for (Gauge family : flowControlQueueBytes) {
      family.labels(labels).inc(bytes);
    }
  }

  @Override
  public void recordFlowControlCapacity(int priority, double requestUtilization, double byteUtilization) {
    String band = band(priority);
    String pool = poolName();
    flowControlCapacityRequests.labels(pool, band).set(requestUtilization);
    flowControlCapacityBytes.labels(pool, band).set(byteUtilization);
  }

  @Override
  public void recordFlowControlSaturation(double saturation) {
    String pool = poolName();
    flowControlSaturation.labels(pool, "effective").set(saturation);
    gieFlowControlSaturation.labels(pool).set(saturation);
  }

  /** The monitored pool's name, the {@code inference_pool} label; empty before {@link #monitorPool}. */
  private String poolName() {
    Pool monitored = pool;
    return monitored == null ? "" : monitored.name;
  }

  @Override
  public void recordTokenizationFailure(TypedName plugin, String reason) {
    tokenizationFailures.labels(plugin.name(), plugin.type(), reason).inc();
  }

  @Override
  public void recordPrefixIndexSync(TypedName plugin, PrefixIndexSync outcome, long entries) {
    prefixIndexSync.get(outcome).labels(plugin.name(), plugin.type()).inc(entries);
  }

  @Override
  public void recordModelRewrite(String rule, String model, String targetModel) {
    ModelLabels.Pair labels = modelLabels.pair(model, targetModel);
    modelRewriteDecisions.labels(labels.model(), rule, labels.target()).inc();
    llmdModelRewriteDecisions.labels(labels.model(), rule, labels.target()).inc();
  }

  /**
   * {@inheritDoc}
   *
   * <p>The series is created on the first observation, as Go's {@code WithLabelValues(...).Observe} does: a plugin
   * that never runs has no zero-valued buckets on the page. Later observations reuse it without a label lookup.
   */
  @Override
  public LongConsumer pluginLatency(String extensionPoint, TypedName plugin) {
    return new LongConsumer() {
      // benign races: labels() returns the same children to every thread
      private Histogram.Child child;
      private Histogram.Child llmdChild;

      @Override
      public void accept(long nanos) {
        Histogram.Child c = child;
        Histogram.Child l = llmdChild;
        if (c == null || l == null) {
          child = c = pluginDuration.labels(extensionPoint, plugin.name(), plugin.type());
          llmdChild = l = llmdPluginDuration.labels(extensionPoint, plugin.name(), plugin.type());
        }
        double seconds = nanos / NANOS_PER_SECOND;
        c.observe(seconds);
        l.observe(seconds);
      }
    };
  }

  @Override
  public void recordPrefixCacheMatch(long matchedChars, long totalChars) {
    prefixHitBytes.get().observe(matchedChars);
    if (totalChars > 0) {
      prefixHitRatio.get().observe((double) matchedChars / totalChars);
    }
  }

  @Override
  public void addPrefixIndexSize(LongSupplier size) {
    prefixIndexSizes.add(Objects.requireNonNull(size, "size"));
  }

  @Override
  public void removePrefixIndexSize(LongSupplier size) {
    prefixIndexSizes.remove(size);
  }

  @Override
  public void recordConfigReload(boolean success) {
    configReloads.labels(success ? "success" : "failure").inc();
  }

  @Override
  public void addKvCacheIndex(KvCacheIndexStats index) {
    kvCacheIndexes.add(Objects.requireNonNull(index, "index"));
  }

  @Override
  public void removeKvCacheIndex(KvCacheIndexStats index) {
    kvCacheIndexes.remove(index);
  }

  /**
   * Reports {@code inference_extension_grpc_malformed_input_total} as {@code total}, read at every scrape; the family
   * is left out while it is 0, so an EPP that sees no malformed input serves the Go EPP's page.
   */
  public void malformedGrpcInput(LongSupplier total) {
    this.malformedGrpcInput = Objects.requireNonNull(total, "total");
  }

  // ---- pool gauges --------------------------------------------------------------------------------------------

  /**
   * Starts reporting the pool gauges of the pool named {@code poolName}, whose endpoints are in {@code store}:
   * refreshes them now and then every {@code refreshInterval} on a daemon thread of its own, until {@link #close()}.
   *
   * @param ticker the time source of {@link EndpointMetrics#updatedNanos()}
   * @param stalenessThreshold how old an endpoint's metrics may be for it to count as ready
   * @throws IllegalStateException if a pool is already monitored
   */
  public synchronized void monitorPool(
      String poolName, EndpointStore store, Ticker ticker, Duration stalenessThreshold, Duration refreshInterval) {
    ScheduledExecutorService own = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "epp-metrics-pool-gauges");
      t.setDaemon(true);
      return t;
    });
    try {
      monitorPool(poolName, store, ticker, stalenessThreshold, refreshInterval, own);
    } catch (RuntimeException e) {
      own.shutdownNow();
      throw e;
    }
    ownedRefresher = own;
  }

  /**
   * {@link #monitorPool(String, EndpointStore, Ticker, Duration, Duration)} refreshing on {@code scheduler}, which
   * {@link #close()} does not shut down (it cancels the refresh).
   */
  public synchronized void monitorPool(String poolName, EndpointStore store, Ticker ticker,
      Duration stalenessThreshold, Duration refreshInterval, ScheduledExecutorService scheduler) {
    Objects.requireNonNull(poolName, "poolName");
    Objects.requireNonNull(store, "store");
    Objects.requireNonNull(ticker, "ticker");
    Objects.requireNonNull(scheduler, "scheduler");
    if (refreshInterval.isNegative() || refreshInterval.isZero()) {
      throw new IllegalArgumentException("refreshInterval must be positive: " + refreshInterval);
    }
    if (pool != null) {
      throw new IllegalStateException("already monitoring pool " + pool.name);
    }
    pool = new Pool(poolName, store, ticker, stalenessThreshold.toNanos());
    poolRefresh = scheduler.scheduleAtFixedRate(
        this::refreshPoolGauges, 0, refreshInterval.toNanos(), TimeUnit.NANOSECONDS);
  }

  /**
   * Recomputes the pool gauges from the store now (what the refresh tick does). No-op before {@link #monitorPool}.
   */
  public void refreshPoolGauges() {
    Pool p = pool;
    if (p == null) {
      return;
    }
    Candidates snapshot = p.store.snapshot();
    long now = p.ticker.nanos();
    int ready = 0;
    double kv = 0;
    double queue = 0;
    double running = 0;
    for (int i = 0; i < snapshot.size(); i++) {
      EndpointMetrics m = snapshot.metrics(i);
      if (m.isFresh(now, p.stalenessNanos)) {
        ready++;
        kv += m.kvCacheUsage();
        queue += m.waitingQueueSize();
        running += m.runningRequests();
      }
    }
    poolReadyPods.labels(p.name).set(ready);
    llmdPoolReadyEndpoints.labels(p.name).set(ready);
    if (ready == 0) { // as Go: with no fresh endpoint the averages keep their last values
      return;
    }
    double kvMean = kv / ready;
    double queueMean = queue / ready;
    double runningMean = running / ready;
    double kvSquares = 0;
    double queueSquares = 0;
    double runningSquares = 0;
    for (int i = 0; i < snapshot.size(); i++) {
      EndpointMetrics m = snapshot.metrics(i);
      if (m.isFresh(now, p.stalenessNanos)) {
        kvSquares += square(m.kvCacheUsage() - kvMean);
        queueSquares += square(m.waitingQueueSize() - queueMean);
        runningSquares += square(m.runningRequests() - runningMean);
      }
    }
    poolAverageKvCache.labels(p.name).set(kvMean);
    poolAverageQueueSize.labels(p.name).set(queueMean);
    poolAverageRunningRequests.labels(p.name).set(runningMean);
    llmdPoolAverageKvCache.labels(p.name).set(kvMean);
    llmdPoolAverageQueueSize.labels(p.name).set(queueMean);
    llmdPoolAverageRunningRequests.labels(p.name).set(runningMean);
    double samples = Math.max(1, ready - 1); // llm-d: the sample standard deviation, rounded to two decimals
    llmdPoolStdDevKvCache.labels(p.name).set(round2(Math.sqrt(kvSquares / samples)));
    llmdPoolStdDevQueueSize.labels(p.name).set(round2(Math.sqrt(queueSquares / samples)));
    llmdPoolStdDevRunningRequests.labels(p.name).set(round2(Math.sqrt(runningSquares / samples)));
  }

  private static double square(double x) {
    return x * x;
  }

  private static double round2(double x) {
    return Math.round(x * 100) / 100.0;
  }

  /** Stops the pool-gauge refresh. The registry keeps serving the last values. Idempotent. */
  @Override
  public synchronized void close() {
    if (poolRefresh != null) {
      poolRefresh.cancel(false);
      poolRefresh = null;
    }
    if (ownedRefresher != null) {
      ownedRefresher.shutdownNow();
      ownedRefresher = null;
    }
  }

  private Counter counter(String name, String help, String... labels) {
    return Counter.build(name, "[ALPHA] " + help).labelNames(labels).register(collectors);
  }

  private Gauge gauge(String name, String help, String... labels) {
    return Gauge.build(name, "[ALPHA] " + help).labelNames(labels).register(collectors);
  }

  private Histogram histogram(String name, String help, double[] buckets, List<String> labels) {
    return Histogram.build(name, "[ALPHA] " + help)
        .buckets(buckets)
        .labelNames(labels.toArray(new String[0]))
        .register(collectors);
  }

  /**
   * A collector registered on first use. Go's unlabelled histograms have no series until observed; the Java
   * client's would show zero buckets from the start.
   */
  private static final class Lazy<T> {
    private final java.util.function.Supplier<T> factory;
    private volatile T value;

    Lazy(java.util.function.Supplier<T> factory) {
      this.factory = factory;
    }

    T get() {
      T v = value;
      if (v == null) {
        synchronized (this) {
          v = value;
          if (v == null) {
            value = v = factory.get();
          }
        }
      }
      return v;
    }
  }

  /** The monitored pool. */
  private static final class Pool {
    final String name;
    final EndpointStore store;
    final Ticker ticker;
    final long stalenessNanos;

    Pool(String name, EndpointStore store, Ticker ticker, long stalenessNanos) {
      this.name = name;
      this.store = store;
      this.ticker = ticker;
      this.stalenessNanos = stalenessNanos;
    }
  }

  /** {@code inference_extension_grpc_malformed_input_total}, read at every scrape, absent while 0. */
  private final class MalformedGrpcInput extends Collector {
    private static final String NAME = "inference_extension_grpc_malformed_input_total";
    private static final String HELP = "[ALPHA] Malformed input received on the gRPC ports: HTTP/2 protocol "
        + "violations and bytes that are not an ext_proc message.";

    @Override
    public List<MetricFamilySamples> collect() {
      long total = malformedGrpcInput.getAsLong();
      return total == 0 ? List.of() : List.of(new CounterMetricFamily(NAME, HELP, total));
    }
  }

  /**
   * llm-d's {@code llm_d_epp_kv_cache_index_*} families (with llm-d's HELP texts) and this EPP's
   * {@code llm_d_epp_kv_cache_index_size}, summed over the indexes added at every scrape; absent before the first.
   */
  private final class KvCacheIndex extends Collector {
    private static final String PREFIX = "llm_d_epp_kv_cache_index_";

    @Override
    public List<MetricFamilySamples> collect() {
      if (kvCacheIndexes.isEmpty()) {
        return List.of();
      }
      long keys = 0;
      long admissions = 0;
      long evictions = 0;
      long lookups = 0;
      long hits = 0;
      for (KvCacheIndexStats index : kvCacheIndexes) {
        keys += index.keys();
        admissions += index.admissions();
        evictions += index.evictions();
        lookups += index.lookups();
        hits += index.lookupHits();
      }
      return List.of(
          new CounterMetricFamily(PREFIX + "admissions_total", "Total number of KV-block admissions", admissions),
          new CounterMetricFamily(PREFIX + "evictions_total", "Total number of KV-block evictions", evictions),
          new CounterMetricFamily(PREFIX + "lookup_hits_total",
              "Contiguous prefix blocks matched by the best pod per lookup", hits),
          new CounterMetricFamily(PREFIX + "lookup_requests_total", "Total number of lookup calls", lookups),
          new CounterMetricFamily(PREFIX + "max_pod_hit_count_total",
              "Longest contiguous per-pod prefix chain observed per lookup", hits),
          new GaugeMetricFamily(PREFIX + "size", "Number of block keys the KV-cache index holds.", keys));
    }
  }

  /**
   * {@code inference_pool_per_pod_queue_size} and llm-d's {@code llm_d_epp_per_endpoint_queue_size}, computed from the
   * store at every scrape.
   */
  private final class PerEndpointQueueSize extends Collector {
    private static final String HELP =
        "[ALPHA] The total number of requests pending in the model server queue for each underlying pod.";
    private static final String LLMD_HELP =
        "[ALPHA] The total number of requests pending in the model server queue for each underlying endpoint.";

    @Override
    public List<MetricFamilySamples> collect() {
      Pool p = pool;
      if (p == null) {
        return List.of();
      }
      Candidates snapshot = p.store.snapshot();
      if (snapshot.size() == 0) {
        return List.of();
      }
      Integer[] order = new Integer[snapshot.size()];
      for (int i = 0; i < order.length; i++) {
        order[i] = i;
      }
      // As Go's registry: series sorted by label values.
      java.util.Arrays.sort(order, java.util.Comparator.comparing(i -> snapshot.endpoint(i).name()));
      GaugeMetricFamily pods = new GaugeMetricFamily("inference_pool_per_pod_queue_size", HELP,
          List.of("model_server_pod", "name"));
      GaugeMetricFamily endpoints = new GaugeMetricFamily(LLMD + "per_endpoint_queue_size", LLMD_HELP,
          List.of("model_server_endpoint", "name"));
      for (int i : order) {
        List<String> labels = List.of(snapshot.endpoint(i).name(), p.name);
        pods.addMetric(labels, snapshot.metrics(i).waitingQueueSize());
        endpoints.addMetric(labels, snapshot.metrics(i).waitingQueueSize());
      }
      return List.of(pods, endpoints);
    }
  }

  /** llm-d's ext_proc stream families, once enabled. */
  private record StreamMetrics(Gauge inflight, Counter total, Histogram duration) {}
}
