package dev.epp.metrics.scrape;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.epp.api.EndpointMetrics;
import dev.epp.api.Ticker;
import dev.epp.discovery.FileDiscovery;
import dev.epp.metrics.export.EppMetrics;
import dev.epp.metrics.export.MetricsExporter;
import dev.epp.scheduler.EndpointPool;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator walkthrough of the observability guide, end to end: a watched endpoint file feeds the real pool, the
 * scraper polls three real vLLM-like servers, and {@code inference_pool_ready_pods} on {@code /metrics} goes
 * 1 -> 3 -> 1 as endpoints are added to and removed from the file.
 */
class ReadyPodsTest {

  @TempDir Path dir;

  private final HttpClient client = HttpClient.newHttpClient();

  @Test
  void readyPodsFollowsTheEndpointFile() throws Exception {
    Path file = dir.resolve("endpoints.txt");
    try (ModelServer a = new ModelServer(ModelServer.vllmPage(0, 0, 0));
        ModelServer b = new ModelServer(ModelServer.vllmPage(2, 1, 0.5));
        ModelServer c = new ModelServer(ModelServer.vllmPage(4, 3, 0.25))) {
      String lineA = "vllm-xxx-rank-0 127.0.0.1:" + a.port() + " inference.networking.k8s.io/engine-type=vllm\n";
      String lineB = "vllm-yyy-rank-0 127.0.0.1:" + b.port() + "\n";
      String lineC = "vllm-zzz-rank-0 127.0.0.1:" + c.port() + "\n";
      write(file, lineA);

      EndpointPool pool = new EndpointPool();
      try (FileDiscovery discovery = new FileDiscovery(file, Duration.ofMillis(50));
          MetricsScraper scraper = MetricsScraper.builder(pool).interval(Duration.ofMillis(50)).build();
          EppMetrics metrics = EppMetrics.create();
          MetricsExporter exporter = MetricsExporter.start(
              new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), metrics.registry(), null)) {
        discovery.start(pool);
        scraper.start();
        metrics.monitorPool("gaie-sim", pool, Ticker.system(), EndpointMetrics.DEFAULT_STALENESS_THRESHOLD,
            Duration.ofMillis(100));

        awaitReadyPods(exporter, 1);
        write(file, lineA + lineB + lineC);
        awaitReadyPods(exporter, 3);
        assertEquals(List.of(
            "inference_pool_average_kv_cache_utilization{name=\"gaie-sim\"} 0.25",
            "inference_pool_average_queue_size{name=\"gaie-sim\"} 2",
            "inference_pool_average_running_requests{name=\"gaie-sim\"} 1.3333333333333333"),
            grep(exporter, "inference_pool_average"));
        assertEquals(List.of(
            "inference_pool_per_pod_queue_size{model_server_pod=\"vllm-xxx-rank-0\",name=\"gaie-sim\"} 0",
            "inference_pool_per_pod_queue_size{model_server_pod=\"vllm-yyy-rank-0\",name=\"gaie-sim\"} 2",
            "inference_pool_per_pod_queue_size{model_server_pod=\"vllm-zzz-rank-0\",name=\"gaie-sim\"} 4"),
            grep(exporter, "inference_pool_per_pod_queue_size"));
        write(file, lineB);
        awaitReadyPods(exporter, 1);
        assertEquals(1, scraper.endpointCount());
      }
    }
  }

  private static void write(Path file, String text) throws IOException {
    Path tmp = Files.createTempFile(file.getParent(), "endpoints", ".tmp");
    Files.writeString(tmp, text);
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  private void awaitReadyPods(MetricsExporter exporter, int expected) {
    String line = "inference_pool_ready_pods{name=\"gaie-sim\"} " + expected;
    String[] last = {""};
    Await.until(line, () -> {
      List<String> lines = grep(exporter, "inference_pool_ready_pods");
      last[0] = lines.toString();
      return lines.equals(List.of(line));
    }, () -> last[0]);
  }

  private List<String> grep(MetricsExporter exporter, String prefix) {
    try {
      String page = client.send(
          HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + exporter.port() + "/metrics")).build(),
          HttpResponse.BodyHandlers.ofString()).body();
      return Arrays.stream(page.split("\n")).filter(l -> l.startsWith(prefix)).toList();
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }
}
