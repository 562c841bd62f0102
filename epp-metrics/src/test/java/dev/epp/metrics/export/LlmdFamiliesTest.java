package dev.epp.metrics.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.metrics.export.internal.ModelLabels;
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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** llm-d's {@code llm_d_epp_*} families, emitted next to the GIE names, fetched over HTTP from the real exporter. */
class LlmdFamiliesTest {

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

  private List<String> grep(String prefix) throws IOException, InterruptedException {
    return Arrays.stream(scrape().split("\n")).filter(l -> l.startsWith(prefix)).toList();
  }

  private EndpointMetrics fresh(int queue, int running, double kv) {
    return EndpointMetrics.builder().waitingQueueSize(queue).runningRequests(running).kvCacheUsage(kv)
        .updatedNanos(now.get()).build();
  }

  @Test
  void poolGaugesUnderLlmdNamesWithSampleStandardDeviations() throws Exception {
    EndpointPool pool = new EndpointPool();
    pool.upsert(Endpoint.of("a-rank-0", "10.0.0.1", 8000));
    pool.upsert(Endpoint.of("b-rank-0", "10.0.0.2", 8000));
    pool.upsert(Endpoint.of("c-rank-0", "10.0.0.3", 8000));
    pool.upsert(Endpoint.of("d-rank-0", "10.0.0.4", 8000));
    pool.updateMetrics("a-rank-0", fresh(4, 2, 0.5));
    pool.updateMetrics("b-rank-0", fresh(2, 6, 0.1));
    pool.updateMetrics("c-rank-0", fresh(0, 1, 0.3));
    pool.updateMetrics("d-rank-0", EndpointMetrics.builder().waitingQueueSize(7)
        .updatedNanos(now.get() - 3_000_000_000L).build()); // stale: 3 s old
    metrics.monitorPool("p1", pool, now::get, Duration.ofSeconds(2), Duration.ofDays(1));
    metrics.refreshPoolGauges();

    // over a, b, c: queue 4, 2, 0 (mean 2, sample sd 2); running 2, 6, 1 (mean 3, sd sqrt(7) = 2.65);
    // kv 0.5, 0.1, 0.3 (mean 0.3, sd 0.2)
    assertEquals(List.of(
        "llm_d_epp_average_kv_cache_utilization{name=\"p1\"} 0.3",
        "llm_d_epp_average_queue_size{name=\"p1\"} 2",
        "llm_d_epp_average_running_requests{name=\"p1\"} 3"), grep("llm_d_epp_average_"));
    assertEquals(List.of(
        "llm_d_epp_std_dev_kv_cache_utilization{name=\"p1\"} 0.2",
        "llm_d_epp_std_dev_queue_size{name=\"p1\"} 2",
        "llm_d_epp_std_dev_running_requests{name=\"p1\"} 2.65"), grep("llm_d_epp_std_dev_"));
    assertEquals(List.of("llm_d_epp_ready_endpoints{name=\"p1\"} 3"), grep("llm_d_epp_ready_endpoints"));
    assertEquals(List.of(
        "llm_d_epp_per_endpoint_queue_size{model_server_endpoint=\"a-rank-0\",name=\"p1\"} 4",
        "llm_d_epp_per_endpoint_queue_size{model_server_endpoint=\"b-rank-0\",name=\"p1\"} 2",
        "llm_d_epp_per_endpoint_queue_size{model_server_endpoint=\"c-rank-0\",name=\"p1\"} 0",
        "llm_d_epp_per_endpoint_queue_size{model_server_endpoint=\"d-rank-0\",name=\"p1\"} 7"),
        grep("llm_d_epp_per_endpoint_queue_size"));
    assertTrue(scrape().contains("# TYPE llm_d_epp_std_dev_queue_size gauge\n"));
  }

  @Test
  void oneEndpointHasAStandardDeviationOfZero() throws Exception {
    EndpointPool pool = new EndpointPool();
    pool.upsert(Endpoint.of("a-rank-0", "10.0.0.1", 8000));
    pool.updateMetrics("a-rank-0", fresh(4, 2, 0.5));
    metrics.monitorPool("p1", pool, now::get, Duration.ofSeconds(2), Duration.ofDays(1));
    metrics.refreshPoolGauges();
    assertEquals(List.of("llm_d_epp_std_dev_queue_size{name=\"p1\"} 0"), grep("llm_d_epp_std_dev_queue_size"));
  }

  @Test
  void requestFamiliesCarryFairnessAndPriorityNextToTheGieNames() throws Exception {
    metrics.recordRequest("m", "t", "tenant-a", 2);
    metrics.recordRequestError("m", "t", "tenant-a", 2, "BadRequest");
    metrics.requestStarted("m", "t", "tenant-a", 2);
    metrics.recordTimeToFirstToken("m", "t", "tenant-a", 2, true, 300_000_000);

    assertEquals(List.of("inference_objective_request_total{model_name=\"m\",priority=\"2\","
        + "target_model_name=\"t\"} 1"), grep("inference_objective_request_total"));
    assertEquals(List.of("llm_d_epp_request_total{fairness_id=\"tenant-a\",model_name=\"m\",priority=\"2\","
        + "target_model_name=\"t\"} 1"), grep("llm_d_epp_request_total"));
    assertEquals(List.of("llm_d_epp_request_error_total{error_code=\"BadRequest\",fairness_id=\"tenant-a\","
        + "model_name=\"m\",priority=\"2\",target_model_name=\"t\"} 1"), grep("llm_d_epp_request_error_total"));
    assertEquals(List.of("llm_d_epp_request_running{fairness_id=\"tenant-a\",model_name=\"m\",priority=\"2\","
        + "target_model_name=\"t\"} 1"), grep("llm_d_epp_request_running"));
    assertTrue(grep("llm_d_epp_request_ttft_seconds_bucket").contains("llm_d_epp_request_ttft_seconds_bucket{"
        + "fairness_id=\"tenant-a\",model_name=\"m\",priority=\"2\",streaming=\"true\",target_model_name=\"t\","
        + "le=\"0.4\"} 1"));

    metrics.requestFinished("m", "t", "tenant-a", 2);
    assertEquals(List.of("llm_d_epp_request_running{fairness_id=\"tenant-a\",model_name=\"m\",priority=\"2\","
        + "target_model_name=\"t\"} 0"), grep("llm_d_epp_request_running"));
  }

  @Test
  void fiveThousandModelsAndTenantsKeepAThousandValuesPerLabel() throws Exception {
    for (int i = 0; i < 5000; i++) {
      metrics.recordRequest("model-" + i, "model-" + i, "tenant-" + i, 0);
    }
    List<String> series = grep("llm_d_epp_request_total{");
    assertEquals(ModelLabels.MAX_PAIRS + 1, series.size(), "a thousand kept, the rest as other");
    assertTrue(series.contains("llm_d_epp_request_total{fairness_id=\"other\",model_name=\"other\",priority=\"0\","
        + "target_model_name=\"other\"} 4000"), String.join("\n", series));
    assertTrue(series.contains("llm_d_epp_request_total{fairness_id=\"tenant-7\",model_name=\"model-7\","
        + "priority=\"0\",target_model_name=\"model-7\"} 1"));

    // A new tenant on a kept model still folds to other: each label is capped on its own.
    metrics.recordRequest("model-7", "model-7", "tenant-new", 0);
    assertTrue(grep("llm_d_epp_request_total{").contains("llm_d_epp_request_total{fairness_id=\"other\","
        + "model_name=\"model-7\",priority=\"0\",target_model_name=\"model-7\"} 1"));
  }

  @Test
  void streamFamiliesAreAbsentUntilEnabled() throws Exception {
    metrics.extProcStreamStarted();
    metrics.extProcStreamFinished("OK", 2_000_000_000L);
    assertEquals(List.of(), grep("llm_d_epp_extproc_"));
    assertFalse(scrape().contains("extproc_stream"));

    metrics.enableGrpcStreamMetrics();
    metrics.enableGrpcStreamMetrics(); // idempotent
    metrics.extProcStreamStarted();
    metrics.extProcStreamStarted();
    metrics.extProcStreamFinished("Canceled", 2_000_000_000L);
    assertEquals(List.of("llm_d_epp_extproc_streams_inflight 1"), grep("llm_d_epp_extproc_streams_inflight"));
    assertEquals(List.of("llm_d_epp_extproc_streams_total{code=\"Canceled\"} 1"),
        grep("llm_d_epp_extproc_streams_total"));
    assertTrue(grep("llm_d_epp_extproc_stream_duration_seconds").containsAll(List.of(
        "llm_d_epp_extproc_stream_duration_seconds_bucket{le=\"1\"} 0",
        "llm_d_epp_extproc_stream_duration_seconds_bucket{le=\"5\"} 1",
        "llm_d_epp_extproc_stream_duration_seconds_count 1")));
  }
}
