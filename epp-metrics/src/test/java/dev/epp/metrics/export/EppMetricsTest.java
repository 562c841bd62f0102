package dev.epp.metrics.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.MetricsRecorder;
import dev.epp.api.TypedName;
import dev.epp.metrics.export.internal.BuildInfo;
import dev.epp.scheduler.EndpointPool;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Golden tests of the exposition, fetched over HTTP from the real exporter. */
class EppMetricsTest {

  private static final Duration NEVER_TICKS = Duration.ofDays(1);

  private final AtomicLong now = new AtomicLong(1_000_000_000_000L);
  private final EppMetrics metrics = EppMetrics.create(MetricsRegistry.create());
  private final MetricsExporter exporter = MetricsExporter.start(
      new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), metrics.registry(), null);

  @AfterEach
  void close() {
    exporter.close();
    metrics.close();
  }

  private String scrape() throws IOException, InterruptedException {
    HttpResponse<String> response = HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + exporter.port() + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, response.statusCode());
    return response.body();
  }

  /** {@code curl -s .../metrics | grep "^<prefix>"}. */
  private List<String> grep(String prefix) throws IOException, InterruptedException {
    return Arrays.stream(scrape().split("\n")).filter(l -> l.startsWith(prefix)).toList();
  }

  /** The block of one family, HELP through its last sample. */
  private String family(String name) throws IOException, InterruptedException {
    String page = scrape();
    int start = page.indexOf("# HELP " + name + " ");
    assertTrue(start >= 0, "no family " + name + " in\n" + page);
    int end = page.indexOf("# HELP ", start + 1);
    return page.substring(start, end < 0 ? page.length() : end);
  }

  private EndpointMetrics fresh(int queue, int running, double kv) {
    return EndpointMetrics.builder().waitingQueueSize(queue).runningRequests(running).kvCacheUsage(kv)
        .updatedNanos(now.get()).build();
  }

  @Test
  void idlePoolOfThreeMatchesTheObservabilityGuide() throws Exception {
    EndpointPool pool = new EndpointPool();
    for (String pod : List.of("vllm-zzz-rank-0", "vllm-xxx-rank-0", "vllm-yyy-rank-0")) {
      pool.upsert(Endpoint.of(pod, "10.0.0." + pod.charAt(5), 8000));
      pool.updateMetrics(pod, fresh(0, 0, 0));
    }
    metrics.monitorPool("gaie-sim", pool, now::get, EndpointMetrics.DEFAULT_STALENESS_THRESHOLD, NEVER_TICKS);
    metrics.refreshPoolGauges();

    BuildInfo build = BuildInfo.load();
    // The guide's sample (llm-d-epp-observability-guide.txt, section 3), plus the v1.5 running-requests average
    // that the guide's v1.4 EPP did not have yet.
    List<String> expected = List.of(
        "inference_extension_info{build_ref=\"" + build.buildRef() + "\",commit=\"" + build.commit() + "\"} 1",
        "inference_extension_prefix_indexer_size 0",
        "inference_pool_average_kv_cache_utilization{name=\"gaie-sim\"} 0",
        "inference_pool_average_queue_size{name=\"gaie-sim\"} 0",
        "inference_pool_average_running_requests{name=\"gaie-sim\"} 0",
        "inference_pool_per_pod_queue_size{model_server_pod=\"vllm-xxx-rank-0\",name=\"gaie-sim\"} 0",
        "inference_pool_per_pod_queue_size{model_server_pod=\"vllm-yyy-rank-0\",name=\"gaie-sim\"} 0",
        "inference_pool_per_pod_queue_size{model_server_pod=\"vllm-zzz-rank-0\",name=\"gaie-sim\"} 0",
        "inference_pool_ready_pods{name=\"gaie-sim\"} 3");
    assertEquals(expected, grep("inference_"));
    assertTrue(build.buildRef().startsWith("0."), "build_ref is the project version: " + build.buildRef());
  }

  @Test
  void kvCacheIndexFamiliesSumTheIndexesAddedAndAreAbsentBefore() throws Exception {
    assertEquals(List.of(), grep("llm_d_epp_kv_cache_index"));
    metrics.addKvCacheIndex(stats(10, 12, 2, 3, 40));
    metrics.addKvCacheIndex(stats(5, 5, 0, 1, 2));
    assertEquals(List.of(
        "llm_d_epp_kv_cache_index_admissions_total 17",
        "llm_d_epp_kv_cache_index_evictions_total 2",
        "llm_d_epp_kv_cache_index_lookup_hits_total 42",
        "llm_d_epp_kv_cache_index_lookup_requests_total 4",
        "llm_d_epp_kv_cache_index_max_pod_hit_count_total 42",
        "llm_d_epp_kv_cache_index_size 15"), grep("llm_d_epp_kv_cache_index"));
    assertEquals("""
        # HELP llm_d_epp_kv_cache_index_lookup_hits_total Contiguous prefix blocks matched by the best pod per lookup
        # TYPE llm_d_epp_kv_cache_index_lookup_hits_total counter
        llm_d_epp_kv_cache_index_lookup_hits_total 42
        """, family("llm_d_epp_kv_cache_index_lookup_hits_total"));
  }

  private static MetricsRecorder.KvCacheIndexStats stats(long keys, long admissions, long evictions, long lookups,
      long hits) {
    return new MetricsRecorder.KvCacheIndexStats() {
      @Override
      public long keys() {
        return keys;
      }

      @Override
      public long admissions() {
        return admissions;
      }

      @Override
      public long evictions() {
        return evictions;
      }

      @Override
      public long lookups() {
        return lookups;
      }

      @Override
      public long lookupHits() {
        return hits;
      }
    };
  }

  @Test
  void malformedGrpcInputIsACounterShownOnceNotZero() throws Exception {
    AtomicLong total = new AtomicLong();
    metrics.malformedGrpcInput(total::get);
    assertEquals(List.of(), grep("inference_extension_grpc_malformed_input"));
    total.set(3);
    assertEquals("""
        # HELP inference_extension_grpc_malformed_input_total [ALPHA] Malformed input received on the gRPC ports: \
        HTTP/2 protocol violations and bytes that are not an ext_proc message.
        # TYPE inference_extension_grpc_malformed_input_total counter
        inference_extension_grpc_malformed_input_total 3
        """, family("inference_extension_grpc_malformed_input_total"));
  }

  @Test
  void poolGaugesHaveTheGoHelpTypeAndValues() throws Exception {
    EndpointPool pool = new EndpointPool();
    pool.upsert(Endpoint.of("a-rank-0", "10.0.0.1", 8000));
    pool.upsert(Endpoint.of("b-rank-0", "10.0.0.2", 8000));
    pool.upsert(Endpoint.of("c-rank-0", "10.0.0.3", 8000));
    pool.updateMetrics("a-rank-0", fresh(4, 2, 0.5));
    pool.updateMetrics("b-rank-0", fresh(2, 6, 0.1));
    pool.updateMetrics("c-rank-0", EndpointMetrics.builder().waitingQueueSize(7).updatedNanos(now.get() - 3_000_000_000L)
        .build()); // stale: 3 s old
    metrics.monitorPool("p1", pool, now::get, Duration.ofSeconds(2), NEVER_TICKS);
    metrics.refreshPoolGauges();

    assertEquals("""
        # HELP inference_pool_average_kv_cache_utilization [ALPHA] The average kv cache utilization for an inference server pool.
        # TYPE inference_pool_average_kv_cache_utilization gauge
        inference_pool_average_kv_cache_utilization{name="p1"} 0.3
        """, family("inference_pool_average_kv_cache_utilization"));
    assertEquals("""
        # HELP inference_pool_average_queue_size [ALPHA] The average number of requests pending in the model server queue.
        # TYPE inference_pool_average_queue_size gauge
        inference_pool_average_queue_size{name="p1"} 3
        """, family("inference_pool_average_queue_size"));
    assertEquals("""
        # HELP inference_pool_average_running_requests [ALPHA] The average number of running requests across model servers in the pool.
        # TYPE inference_pool_average_running_requests gauge
        inference_pool_average_running_requests{name="p1"} 4
        """, family("inference_pool_average_running_requests"));
    assertEquals("""
        # HELP inference_pool_ready_pods [ALPHA] The number of ready pods in the inference server pool.
        # TYPE inference_pool_ready_pods gauge
        inference_pool_ready_pods{name="p1"} 2
        """, family("inference_pool_ready_pods"));
    assertEquals("""
        # HELP inference_pool_per_pod_queue_size [ALPHA] The total number of requests pending in the model server queue for each underlying pod.
        # TYPE inference_pool_per_pod_queue_size gauge
        inference_pool_per_pod_queue_size{model_server_pod="a-rank-0",name="p1"} 4
        inference_pool_per_pod_queue_size{model_server_pod="b-rank-0",name="p1"} 2
        inference_pool_per_pod_queue_size{model_server_pod="c-rank-0",name="p1"} 7
        """, family("inference_pool_per_pod_queue_size"), "per-pod queue covers stale endpoints too");

    // Everything goes stale: ready drops to 0 and the averages keep their last values (as Go).
    now.addAndGet(Duration.ofSeconds(10).toNanos());
    metrics.refreshPoolGauges();
    assertEquals(List.of(
        "inference_pool_average_kv_cache_utilization{name=\"p1\"} 0.3",
        "inference_pool_average_queue_size{name=\"p1\"} 3",
        "inference_pool_average_running_requests{name=\"p1\"} 4"), grep("inference_pool_average"));
    assertEquals(List.of("inference_pool_ready_pods{name=\"p1\"} 0"), grep("inference_pool_ready_pods"));
  }

  @Test
  void noPoolSeriesBeforeAPoolIsKnown() throws Exception {
    assertEquals(List.of(), grep("inference_pool_"));
    assertTrue(scrape().contains("\ninference_extension_prefix_indexer_size 0\n"));
  }

  @Test
  void requestFamiliesMatchTheGoGoldenFiles() throws Exception {
    // pkg/epp/metrics/testdata/request_total_metric
    metrics.recordRequest("m10", "t10", 0);
    metrics.recordRequest("m10", "t10", 0);
    metrics.recordRequest("m10", "t11", 0);
    metrics.recordRequest("m20", "t20", 0);
    assertEquals("""
        # HELP inference_objective_request_total [ALPHA] Counter of inference objective requests broken out for each model and target model.
        # TYPE inference_objective_request_total counter
        inference_objective_request_total{model_name="m10",priority="0",target_model_name="t10"} 2
        inference_objective_request_total{model_name="m10",priority="0",target_model_name="t11"} 1
        inference_objective_request_total{model_name="m20",priority="0",target_model_name="t20"} 1
        """, family("inference_objective_request_total"));

    // pkg/epp/metrics/testdata/scheduler_attempts_with_result_metrics, whose namespace "ns-1" is empty here: our
    // endpoints carry no namespace.
    Endpoint pod = Endpoint.of("pod-1", "10.0.0.1", 8080);
    metrics.recordSchedulingAttempt("modelA", pod);
    metrics.recordSchedulingAttempt("modelA", pod);
    metrics.recordSchedulingAttempt("modelA", null);
    assertEquals("""
        # HELP inference_extension_scheduler_attempts_total [ALPHA] Total number of scheduling attempts.
        # TYPE inference_extension_scheduler_attempts_total counter
        inference_extension_scheduler_attempts_total{namespace="",pod_name="",port="",status="failure",target_model_name="modelA"} 1
        inference_extension_scheduler_attempts_total{namespace="",pod_name="pod-1",port="8080",status="success",target_model_name="modelA"} 2
        """, family("inference_extension_scheduler_attempts_total"));

    // pkg/epp/metrics/metrics_test.go (TestInferenceModelRewriteDecisionsTotalMetric)
    metrics.recordModelRewrite("rewrite-rule-1", "model-a", "model-b");
    metrics.recordModelRewrite("rewrite-rule-1", "model-a", "model-b");
    metrics.recordModelRewrite("rewrite-rule-2", "model-c", "model-d");
    assertEquals("""
        # HELP inference_extension_model_rewrite_decisions_total [ALPHA] Total number of inference model rewrite decisions.
        # TYPE inference_extension_model_rewrite_decisions_total counter
        inference_extension_model_rewrite_decisions_total{model_name="model-a",model_rewrite_name="rewrite-rule-1",target_model="model-b"} 2
        inference_extension_model_rewrite_decisions_total{model_name="model-c",model_rewrite_name="rewrite-rule-2",target_model="model-d"} 1
        """, family("inference_extension_model_rewrite_decisions_total"));

    // llm-d pkg/epp/framework/plugins/scheduling/profilehandler/disagg/metrics.go (RecordDisaggDecision)
    TypedName handler = new TypedName("disagg-profile-handler", "pd");
    metrics.recordDisaggDecision(handler, "model-a", "prefill-decode");
    metrics.recordDisaggDecision(handler, "model-a", "prefill-decode");
    metrics.recordDisaggDecision(handler, "", "decode-only");
    assertEquals("""
        # HELP llm_d_epp_disagg_decision_total [ALPHA] Total number of disaggregation routing decisions made
        # TYPE llm_d_epp_disagg_decision_total counter
        llm_d_epp_disagg_decision_total{plugin_name="pd",plugin_type="disagg-profile-handler",model_name="model-a",decision_type="prefill-decode"} 2
        llm_d_epp_disagg_decision_total{plugin_name="pd",plugin_type="disagg-profile-handler",model_name="unknown",decision_type="decode-only"} 1
        """, family("llm_d_epp_disagg_decision_total"));
    assertEquals("""
        # HELP llm_d_inference_scheduler_disagg_decision_total [ALPHA] [Deprecated: Use llm_d_epp_disagg_decision_total] Total number of disaggregation routing decisions made
        # TYPE llm_d_inference_scheduler_disagg_decision_total counter
        llm_d_inference_scheduler_disagg_decision_total{model_name="model-a",decision_type="prefill-decode"} 2
        llm_d_inference_scheduler_disagg_decision_total{model_name="unknown",decision_type="decode-only"} 1
        """, family("llm_d_inference_scheduler_disagg_decision_total"));

    // llm-d pkg/kvcache/metrics (MessagesReceived) and this EPP's KV-event drops and sequence gaps
    metrics.recordKvEventMessage("pod-a-rank-0");
    metrics.recordKvEventMessage("pod-a-rank-0");
    metrics.recordKvEventDropped("pod-a-rank-0", "malformed");
    metrics.recordKvEventDropped("pod-a-rank-0", "queue_full");
    metrics.recordKvEventDropped("pod-a-rank-0", "queue_full");
    metrics.recordKvEventSequenceGap("pod-b-rank-1");
    assertEquals("""
        # HELP llm_d_epp_kv_cache_events_messages_received_total [ALPHA] Total number of messages received from ZMQ subscribers
        # TYPE llm_d_epp_kv_cache_events_messages_received_total counter
        llm_d_epp_kv_cache_events_messages_received_total{pod_identifier="pod-a-rank-0"} 2
        """, family("llm_d_epp_kv_cache_events_messages_received_total"));
    assertEquals(List.of(
        "llm_d_epp_kv_cache_events_dropped_total{pod_identifier=\"pod-a-rank-0\",reason=\"malformed\"} 1",
        "llm_d_epp_kv_cache_events_dropped_total{pod_identifier=\"pod-a-rank-0\",reason=\"queue_full\"} 2"),
        grep("llm_d_epp_kv_cache_events_dropped_total{"));
    assertEquals(List.of("llm_d_epp_kv_cache_events_sequence_gaps_total{pod_identifier=\"pod-b-rank-1\"} 1"),
        grep("llm_d_epp_kv_cache_events_sequence_gaps_total{"));

    TypedName tokenizer = new TypedName("token-producer", "tok");
    metrics.recordTokenizationFailure(tokenizer, "timeout");
    metrics.recordTokenizationFailure(tokenizer, "timeout");
    metrics.recordTokenizationFailure(tokenizer, "bad_response");
    assertEquals("""
        # HELP llm_d_epp_tokenization_failures_total [ALPHA] Total number of requests a token producer could not tokenize
        # TYPE llm_d_epp_tokenization_failures_total counter
        llm_d_epp_tokenization_failures_total{plugin_name="tok",plugin_type="token-producer",reason="bad_response"} 1
        llm_d_epp_tokenization_failures_total{plugin_name="tok",plugin_type="token-producer",reason="timeout"} 2
        """, family("llm_d_epp_tokenization_failures_total"));

    TypedName sync = new TypedName("redis-prefix-index-sync", "sync");
    metrics.recordPrefixIndexSync(sync, MetricsRecorder.PrefixIndexSync.PUBLISHED, 3);
    metrics.recordPrefixIndexSync(sync, MetricsRecorder.PrefixIndexSync.APPLIED, 1);
    metrics.recordPrefixIndexSync(sync, MetricsRecorder.PrefixIndexSync.DROPPED, 2);
    metrics.recordPrefixIndexSync(sync, MetricsRecorder.PrefixIndexSync.DROPPED, 1);
    assertEquals("""
        # HELP llm_d_epp_prefix_index_sync_dropped_total [ALPHA] Prefix index inserts shared between EPP replicas, dropped (this EPP's own metric)
        # TYPE llm_d_epp_prefix_index_sync_dropped_total counter
        llm_d_epp_prefix_index_sync_dropped_total{plugin_name="sync",plugin_type="redis-prefix-index-sync"} 3
        """, family("llm_d_epp_prefix_index_sync_dropped_total"));
    assertEquals(List.of(
        "llm_d_epp_prefix_index_sync_published_total{plugin_name=\"sync\",plugin_type=\"redis-prefix-index-sync\"} 3",
        "llm_d_epp_prefix_index_sync_applied_total{plugin_name=\"sync\",plugin_type=\"redis-prefix-index-sync\"} 1"),
        List.of(grep("llm_d_epp_prefix_index_sync_published_total{").get(0),
            grep("llm_d_epp_prefix_index_sync_applied_total{").get(0)));

    metrics.recordRequestError("m", "t", "");
    metrics.recordRequestError("m", "t", "ResourceExhausted");
    assertEquals(List.of("inference_objective_request_error_total{error_code=\"ResourceExhausted\",model_name=\"m\","
        + "target_model_name=\"t\"} 1"), grep("inference_objective_request_error_total{"));

    metrics.requestStarted("m");
    metrics.requestStarted("m");
    metrics.requestFinished("m");
    metrics.requestStarted("");
    assertEquals(List.of("inference_objective_running_requests{model_name=\"m\"} 1"),
        grep("inference_objective_running_requests{"));
  }

  @Test
  void histogramsHaveGoBucketsAndFormatting() throws Exception {
    metrics.recordRequestSize("m", "t", 1_500_000);
    metrics.recordRequestDuration("m", "t", 2_500_000_000L, 100);
    metrics.recordTokens("m", "t", 0, 8);
    metrics.recordSchedulerLatency(150_000);
    metrics.recordPrefixCacheMatch(64, 256);
    metrics.pluginLatency("Scorer", new TypedName("queue-scorer", "queue-scorer")).accept(300_000);

    List<String> sizes = grep("inference_objective_request_sizes");
    assertEquals(25 + 3, sizes.size(), "25 buckets, +Inf, _sum, _count");
    assertEquals("inference_objective_request_sizes_bucket{model_name=\"m\",target_model_name=\"t\",le=\"64\"} 0",
        sizes.get(0));
    assertEquals("inference_objective_request_sizes_bucket{model_name=\"m\",target_model_name=\"t\",le=\"1.048576e+06\"} 0",
        sizes.get(14));
    assertEquals("inference_objective_request_sizes_bucket{model_name=\"m\",target_model_name=\"t\",le=\"2.097152e+06\"} 1",
        sizes.get(15));
    assertEquals("inference_objective_request_sizes_bucket{model_name=\"m\",target_model_name=\"t\",le=\"+Inf\"} 1",
        sizes.get(25));
    assertEquals("inference_objective_request_sizes_sum{model_name=\"m\",target_model_name=\"t\"} 1.5e+06", sizes.get(26));
    assertEquals("inference_objective_request_sizes_count{model_name=\"m\",target_model_name=\"t\"} 1", sizes.get(27));

    assertTrue(grep("inference_objective_request_duration_seconds_sum").get(0).endsWith("} 2.5"));
    assertTrue(grep("inference_objective_normalized_time_per_output_token_seconds_bucket").contains(
        "inference_objective_normalized_time_per_output_token_seconds_bucket{model_name=\"m\",target_model_name=\"t\",le=\"0.05\"} 1"));
    assertEquals(List.of(), grep("inference_objective_input_tokens"), "0 input tokens are not observed");
    assertEquals(13, grep("inference_objective_output_tokens_bucket").size(), "12 buckets and +Inf");
    assertEquals(List.of(
        "inference_extension_scheduler_e2e_duration_seconds_bucket{le=\"0.0001\"} 0",
        "inference_extension_scheduler_e2e_duration_seconds_bucket{le=\"0.0002\"} 1"),
        grep("inference_extension_scheduler_e2e_duration_seconds_bucket").subList(0, 2));
    assertTrue(grep("inference_extension_prefix_indexer_hit_ratio_bucket").contains(
        "inference_extension_prefix_indexer_hit_ratio_bucket{le=\"0.3\"} 1"));
    assertTrue(grep("inference_extension_prefix_indexer_hit_bytes_bucket").contains(
        "inference_extension_prefix_indexer_hit_bytes_bucket{le=\"64\"} 1"));
    assertTrue(grep("inference_extension_plugin_duration_seconds_count").contains(
        "inference_extension_plugin_duration_seconds_count{extension_point=\"Scorer\",plugin_name=\"queue-scorer\","
            + "plugin_type=\"queue-scorer\"} 1"));
  }

  @Test
  void aPluginSeriesAppearsOnItsFirstObservation() throws Exception {
    LongConsumer scorer = metrics.pluginLatency("Scorer", new TypedName("queue-scorer", "queue-scorer"));
    metrics.pluginLatency("Filter", new TypedName("never-runs", "never-runs"));
    assertEquals(List.of(), grep("inference_extension_plugin_duration_seconds"), "bound, not yet observed");

    scorer.accept(300_000);
    scorer.accept(300_000);
    assertEquals(List.of("inference_extension_plugin_duration_seconds_count{extension_point=\"Scorer\","
        + "plugin_name=\"queue-scorer\",plugin_type=\"queue-scorer\"} 2"),
        grep("inference_extension_plugin_duration_seconds_count"));
  }

  @Test
  void prefixIndexerSizeIsTheSumOfEveryIndexReadAtScrapeTime() throws Exception {
    assertEquals(List.of("inference_extension_prefix_indexer_size 0"), grep("inference_extension_prefix_indexer_size"));
    AtomicLong size = new AtomicLong(4096);
    metrics.addPrefixIndexSize(size::get);
    metrics.addPrefixIndexSize(() -> 4);
    assertEquals(List.of("inference_extension_prefix_indexer_size 4100"), grep("inference_extension_prefix_indexer_size"));
    size.set(12);
    assertEquals(List.of("inference_extension_prefix_indexer_size 16"), grep("inference_extension_prefix_indexer_size"));
  }
}
