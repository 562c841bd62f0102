package dev.epp.api;

import java.util.function.LongConsumer;
import java.util.function.LongSupplier;

/**
 * Where the request path reports what the EPP's own Prometheus metrics count: requests, errors, sizes, tokens and
 * latencies per model, model rewrites, scheduling attempts and latencies, plugin latencies and prefix-cache matches.
 * Defined here so that the scheduler and the ext_proc adapter record through it without depending on a metrics
 * library; the Prometheus implementation lives in epp-metrics.
 *
 * <p>Every method has a no-op default, so {@link #noop()} and partial implementations are trivial.
 *
 * <p><b>Threading:</b> implementations are thread-safe, non-blocking and cheap enough to call on every request.
 * Label arguments are never {@code null} (use {@code ""} for "none").
 */
public interface MetricsRecorder {

  /** A recorder that drops everything. */
  static MetricsRecorder noop() {
    return NoopMetricsRecorder.INSTANCE;
  }

  /** A request was scheduled: {@code model} as requested, {@code targetModel} after rewriting. */
  default void recordRequest(String model, String targetModel, int priority) {}

  /** A request failed with {@code errorCode} (e.g. {@code BadRequest}); ignored when the code is empty. */
  default void recordRequestError(String model, String targetModel, String errorCode) {}

  /** The request body's size in bytes. */
  default void recordRequestSize(String model, String targetModel, long bytes) {}

  /** The response body's size in bytes. */
  default void recordResponseSize(String model, String targetModel, long bytes) {}

  /** Prompt and completion token counts from the response usage; counts that are not positive are ignored. */
  default void recordTokens(String model, String targetModel, long inputTokens, long outputTokens) {}

  /** {@code usage.prompt_tokens_details.cached_tokens}, recorded whenever the details are present (even 0). */
  default void recordPromptCachedTokens(String model, String targetModel, long cachedTokens) {}

  /**
   * A request completed {@code nanos} after its headers arrived; also records the normalised time per output token
   * when {@code outputTokens > 0}. Ignored when {@code nanos <= 0}.
   */
  default void recordRequestDuration(String model, String targetModel, long nanos, long outputTokens) {}

  /** A request for {@code model} started running (ignored for an empty model). */
  default void requestStarted(String model) {}

  /** A request for {@code model} finished running (ignored for an empty model). */
  default void requestFinished(String model) {}

  /**
   * {@link #recordRequest(String, String, int)} with the request's fairness ID, for llm-d's families that carry it;
   * by default the call without it.
   */
  default void recordRequest(String model, String targetModel, String fairnessId, int priority) {
    recordRequest(model, targetModel, priority);
  }

  /** {@link #recordRequestError(String, String, String)} with the request's fairness ID and priority. */
  default void recordRequestError(String model, String targetModel, String fairnessId, int priority,
      String errorCode) {
    recordRequestError(model, targetModel, errorCode);
  }

  /** {@link #recordRequestSize(String, String, long)} with the request's fairness ID and priority. */
  default void recordRequestSize(String model, String targetModel, String fairnessId, int priority, long bytes) {
    recordRequestSize(model, targetModel, bytes);
  }

  /** {@link #recordResponseSize(String, String, long)} with the request's fairness ID and priority. */
  default void recordResponseSize(String model, String targetModel, String fairnessId, int priority, long bytes) {
    recordResponseSize(model, targetModel, bytes);
  }

  /** {@link #recordTokens(String, String, long, long)} with the request's fairness ID and priority. */
  default void recordTokens(String model, String targetModel, String fairnessId, int priority, long inputTokens,
      long outputTokens) {
    recordTokens(model, targetModel, inputTokens, outputTokens);
  }

  /** {@link #recordPromptCachedTokens(String, String, long)} with the request's fairness ID and priority. */
  default void recordPromptCachedTokens(String model, String targetModel, String fairnessId, int priority,
      long cachedTokens) {
    recordPromptCachedTokens(model, targetModel, cachedTokens);
  }

  /** {@link #recordRequestDuration(String, String, long, long)} with the request's fairness ID and priority. */
  default void recordRequestDuration(String model, String targetModel, String fairnessId, int priority, long nanos,
      long outputTokens) {
    recordRequestDuration(model, targetModel, nanos, outputTokens);
  }

  /** {@link #requestStarted(String)} with the request's target model, fairness ID and priority. */
  default void requestStarted(String model, String targetModel, String fairnessId, int priority) {
    requestStarted(model);
  }

  /** {@link #requestFinished(String)} with the request's target model, fairness ID and priority. */
  default void requestFinished(String model, String targetModel, String fairnessId, int priority) {
    requestFinished(model);
  }

  /**
   * The response's first token arrived {@code nanos} after the request's headers ({@code request_ttft_seconds}): for a
   * {@code streaming} (server-sent events) response its first body chunk, otherwise its completion. Ignored when
   * {@code nanos <= 0}.
   */
  default void recordTimeToFirstToken(String model, String targetModel, String fairnessId, int priority,
      boolean streaming, long nanos) {}

  /**
   * A streamed response's next body chunk arrived {@code nanos} after the previous one
   * ({@code request_streaming_itl_seconds}). Ignored when {@code nanos < 0}.
   */
  default void recordInterTokenLatency(String model, String targetModel, String fairnessId, int priority,
      long nanos) {}

  /**
   * A streamed response produced {@code outputTokens} tokens, {@code nanosAfterFirstToken} of its time after its first
   * token ({@code request_streaming_tpot_seconds}: that time over {@code outputTokens - 1}). Ignored unless
   * {@code outputTokens > 1} and {@code nanosAfterFirstToken > 0}.
   */
  default void recordTimePerOutputToken(String model, String targetModel, String fairnessId, int priority,
      long nanosAfterFirstToken, long outputTokens) {}

  /** An ext_proc gRPC stream opened ({@code extproc_streams_inflight}). */
  default void extProcStreamStarted() {}

  /**
   * An ext_proc gRPC stream that was open {@code nanos} ended with gRPC status {@code code} (e.g. {@code OK},
   * {@code Canceled}; {@code extproc_streams_total}, {@code extproc_stream_duration_seconds}).
   */
  default void extProcStreamFinished(String code, long nanos) {}

  /**
   * A model rewrite rule named {@code rule} sent a request for {@code model} to {@code targetModel}
   * ({@code inference_extension_model_rewrite_decisions_total}).
   */
  default void recordModelRewrite(String rule, String model, String targetModel) {}

  /** One call to the scheduler took {@code nanos}. */
  default void recordSchedulerLatency(long nanos) {}

  /**
   * One scheduling attempt for {@code targetModel}: {@code primary} is the primary profile's first endpoint, or
   * {@code null} if the attempt failed.
   */
  default void recordSchedulingAttempt(String targetModel, Endpoint primary) {}

  /**
   * Where the durations, in nanoseconds, of {@code plugin}'s calls at {@code extensionPoint} (e.g. {@code Scorer}) go.
   * Asked once per plugin and extension point when a scheduler is built, so the request path records without a
   * lookup.
   */
  default LongConsumer pluginLatency(String extensionPoint, TypedName plugin) {
    return nanos -> {};
  }

  /** A prefix-cache lookup matched {@code matchedChars} of {@code totalChars} prompt characters. */
  default void recordPrefixCacheMatch(long matchedChars, long totalChars) {}

  /**
   * Adds {@code size}, read whenever the metrics are collected, to {@code inference_extension_prefix_indexer_size}:
   * the number of entries a prefix-cache index holds. The gauge reports the sum over every supplier added, so each
   * prefix plugin adds its own when it is created.
   */
  default void addPrefixIndexSize(LongSupplier size) {}

  /** Removes {@code size} (the same instance) added with {@link #addPrefixIndexSize}, when its plugin is closed. */
  default void removePrefixIndexSize(LongSupplier size) {}

  /**
   * The configuration file was re-read and applied ({@code success}), or refused because it did not load or changed
   * what cannot change live ({@code llm_d_epp_config_reloads_total{result="success"|"failure"}}).
   */
  default void recordConfigReload(boolean success) {}

  /**
   * A disaggregation profile handler ({@code plugin}) routed a request for {@code targetModel} with
   * {@code decisionType} {@code decode-only}, {@code prefill-decode}, {@code encode-decode} or
   * {@code encode-prefill-decode} ({@code llm_d_epp_disagg_decision_total} and its deprecated
   * {@code llm_d_inference_scheduler_disagg_decision_total}).
   */
  default void recordDisaggDecision(TypedName plugin, String targetModel, String decisionType) {}

  /**
   * A token producer ({@code plugin}) could not tokenize a request, which goes on without token ids;
   * {@code reason} is {@code timeout}, {@code error} (unreachable, non-2xx) or {@code bad_response}
   * ({@code llm_d_epp_tokenization_failures_total}).
   */
  default void recordTokenizationFailure(TypedName plugin, String reason) {}

  /**
   * A prefix index sync plugin ({@code plugin}) published {@code entries} of its replica's index inserts to the other
   * replicas, applied {@code entries} of theirs to its index, or dropped {@code entries} of its own
   * ({@code llm_d_epp_prefix_index_sync_published_total}, {@code ..._applied_total}, {@code ..._dropped_total}; names
   * of this EPP's own, not llm-d's).
   */
  default void recordPrefixIndexSync(TypedName plugin, PrefixIndexSync outcome, long entries) {}

  /** What became of prefix index inserts shared between replicas; see {@link #recordPrefixIndexSync}. */
  enum PrefixIndexSync {
    /** Local inserts sent to the other replicas. */
    PUBLISHED,
    /** Other replicas' inserts applied to the local index. */
    APPLIED,
    /** Local inserts not sent: the queue was full or the shared store failed. */
    DROPPED
  }

  /**
   * A KV-event message arrived from {@code endpoint}'s publisher, whatever became of it
   * ({@code llm_d_epp_kv_cache_events_messages_received_total}).
   */
  default void recordKvEventMessage(String endpoint) {}

  /**
   * A KV-event message (or, for {@code unknown_event}, one event) from {@code endpoint} was dropped: {@code reason} is
   * {@code malformed}, {@code queue_full}, {@code unknown_event} or {@code sink_error}
   * ({@code llm_d_epp_kv_cache_events_dropped_total}).
   */
  default void recordKvEventDropped(String endpoint, String reason) {}

  /**
   * A KV-event message from {@code endpoint} did not follow the previous one's sequence number: events were lost
   * ({@code llm_d_epp_kv_cache_events_sequence_gaps_total}).
   */
  default void recordKvEventSequenceGap(String endpoint) {}

  /**
   * Flow control finished with a request of {@code fairnessId} at {@code priority} for {@code modelName} (served as
   * {@code targetModelName}) after it spent {@code queueNanos} in the controller; {@code outcome} is llm-d's label
   * ({@code Dispatched}, {@code RejectedCapacity}, {@code EvictedTTL}...) for {@code flow_control_requests_total} and
   * {@code flow_control_request_queue_duration_seconds}.
   */
  default void recordFlowControlOutcome(String fairnessId, int priority, String modelName, String targetModelName,
      String outcome, long queueNanos) {}

  /**
   * A request entered ({@code requests} 1, {@code bytes} its size) or left ({@code -1}, minus its size) the
   * flow-control queues: {@code flow_control_queue_size} and {@code flow_control_queue_bytes}, by fairness ID,
   * priority and model.
   */
  default void recordFlowControlQueued(String fairnessId, int priority, String modelName, String targetModelName,
      int requests, long bytes) {}

  /**
   * The band at {@code priority} now fills {@code requestUtilization} of its request limit and
   * {@code byteUtilization} of its byte limit (0 to 1; {@code flow_control_capacity_utilization_requests} and
   * {@code _bytes}).
   */
  default void recordFlowControlCapacity(int priority, double requestUtilization, double byteUtilization) {}

  /** The pool saturation a flow-control dispatch cycle read ({@code flow_control_pool_saturation}). */
  default void recordFlowControlSaturation(double saturation) {}

  /**
   * Adds a precise prefix-cache index, read whenever the metrics are collected, to llm-d's KV-cache index families
   * {@code llm_d_epp_kv_cache_index_{admissions,evictions,lookup_requests,lookup_hits,max_pod_hit_count}_total} and
   * the gauge {@code llm_d_epp_kv_cache_index_size}; each reports the sum over every index added, and none is exported
   * before the first index is.
   */
  default void addKvCacheIndex(KvCacheIndexStats index) {}

  /** Removes {@code index} added with {@link #addKvCacheIndex}, when its plugin is closed. */
  default void removeKvCacheIndex(KvCacheIndexStats index) {}

  /** What a precise prefix-cache index has counted since it started; read at every collection. */
  interface KvCacheIndexStats {
    /** The block keys held now. */
    long keys();

    /** The (block, endpoint, tier) entries stored. */
    long admissions();

    /** The block keys evicted as least recently used. */
    long evictions();

    /** The lookups (one per request matched). */
    long lookups();

    /** Over every lookup, the sum of the longest run of leading blocks one candidate held. */
    long lookupHits();
  }
}
