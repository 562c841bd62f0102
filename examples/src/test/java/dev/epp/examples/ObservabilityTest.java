package dev.epp.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code examples/observability}: every metric the Grafana dashboard queries is on the {@code /metrics} page of the
 * demo's EPP (run with the directory's flow-control configuration) after some traffic, and {@code promtool check
 * config} accepts the Prometheus configuration.
 */
class ObservabilityTest {

  private static final Path DIR = Path.of("observability");
  private static final String MODEL = "meta-llama/Llama-3.1-8B-Instruct";
  /** PromQL words that are not metric names. */
  private static final Set<String> PROMQL = Set.of("sum", "by", "without", "rate", "irate", "increase",
      "histogram_quantile", "avg", "max", "min", "count", "topk", "bottomk", "and", "or", "unless", "on", "ignoring");
  private static final Pattern IDENTIFIER = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");

  private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @TempDir Path dir;

  @Test
  void everyMetricTheDashboardQueriesIsOnARealMetricsPage() throws Exception {
    Set<String> names = dashboardMetricNames();
    assertTrue(names.containsAll(List.of("llm_d_epp_std_dev_kv_cache_utilization", "llm_d_epp_ready_endpoints",
        "llm_d_epp_per_endpoint_queue_size", "llm_d_epp_request_ttft_seconds_bucket",
        "llm_d_epp_flow_control_queue_size")), names.toString());

    ByteArrayOutputStream err = new ByteArrayOutputStream();
    DemoCommand command = new DemoCommand(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> command.run(new String[] {
        "--gateway-port", "0", "--grpc-port", "0", "--grpc-health-port", "0", "--metrics-port", "0",
        "--first-pod-port", "0", "--kv-events-port", "0",
        "--config-file", DIR.resolve("flow-control.yaml").toString()}));
    try {
      DemoCommand.Ports ports = command.started().get(20, TimeUnit.SECONDS);
      assertNotNull(ports, err.toString(StandardCharsets.UTF_8));
      URI gateway = URI.create("http://127.0.0.1:" + ports.gateway());
      for (int i = 0; i < 3; i++) {
        assertEquals(200, post(gateway.resolve("/v1/completions"),
            "{\"model\":\"" + MODEL + "\",\"prompt\":\"hello " + i + "\",\"max_tokens\":4}").statusCode());
      }
      HttpResponse<String> streamed = post(gateway.resolve("/v1/chat/completions"), "{\"model\":\"" + MODEL
          + "\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":4}");
      assertEquals(200, streamed.statusCode(), streamed.body());
      assertEquals(400, post(gateway.resolve("/v1/completions"), "{\"model\":\"" + MODEL + "\"}").statusCode());

      URI metrics = URI.create("http://127.0.0.1:" + ports.metrics() + "/metrics");
      String page = Awaitility.await("the pool gauges are refreshed").atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(200))
          .until(() -> client.send(HttpRequest.newBuilder(metrics).build(), BodyHandlers.ofString()).body(),
              p -> p.contains("\nllm_d_epp_std_dev_queue_size{"));
      List<String> missing = new ArrayList<>();
      for (String name : names) {
        if (!onPage(page, name)) {
          missing.add(name);
        }
      }
      assertEquals(List.of(), missing, "dashboard metrics missing from\n" + page);
      assertTrue(page.contains("llm_d_epp_request_ttft_seconds_count{fairness_id=\"default-flow\",model_name=\""
          + MODEL + "\",priority=\"0\",streaming=\"true\""), "a streamed request's TTFT");
    } finally {
      command.stop();
      exit.get(15, TimeUnit.SECONDS);
    }
  }

  @Test
  void promtoolAcceptsThePrometheusConfiguration() throws Exception {
    Path output = dir.resolve("promtool.out");
    Process promtool = new ProcessBuilder("promtool", "check", "config", DIR.resolve("prometheus.yml").toString())
        .redirectErrorStream(true).redirectOutput(output.toFile()).start();
    assertTrue(promtool.waitFor(2, TimeUnit.MINUTES), "promtool finished");
    assertEquals(0, promtool.exitValue(), Files.readString(output));
    assertTrue(Files.readString(output).contains("SUCCESS"), Files.readString(output));
  }

  /** The metric names in the dashboard's PromQL expressions. */
  private static Set<String> dashboardMetricNames() throws Exception {
    JsonNode dashboard = new ObjectMapper().readTree(DIR.resolve("epp-dashboard.json").toFile());
    Set<String> names = new TreeSet<>();
    for (JsonNode expr : dashboard.findValues("expr")) {
      String query = expr.asText()
          .replaceAll("\\{[^}]*}", " ") // label matchers
          .replaceAll("\\[[^]]*]", " ") // ranges
          .replaceAll("(by|without)\\s*\\([^)]*\\)", " ") // grouping labels
          .replaceAll("\\b\\d+(\\.\\d+)?\\b", " ");
      Matcher m = IDENTIFIER.matcher(query);
      while (m.find()) {
        if (!PROMQL.contains(m.group())) {
          names.add(m.group());
        }
      }
    }
    assertFalse(names.isEmpty(), "the dashboard queries metrics");
    return names;
  }

  /** Whether {@code name} has a sample on {@code page}; a histogram's series also need their family's TYPE line. */
  private static boolean onPage(String page, String name) {
    boolean sample = page.contains("\n" + name + "{") || page.contains("\n" + name + " ");
    Matcher histogram = Pattern.compile("(.+)_(bucket|sum|count)$").matcher(name);
    if (sample && histogram.matches()) {
      return page.contains("# TYPE " + histogram.group(1) + " histogram\n");
    }
    return sample;
  }

  private HttpResponse<String> post(URI uri, String body) throws Exception {
    return client.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(20))
        .header("content-type", "application/json").POST(BodyPublishers.ofString(body)).build(),
        BodyHandlers.ofString());
  }
}
