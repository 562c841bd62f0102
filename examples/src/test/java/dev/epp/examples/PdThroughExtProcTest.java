package dev.epp.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.epp.api.EndpointMetrics;
import dev.epp.discovery.FileDiscovery;
import dev.epp.examples.gateway.Gateway;
import dev.epp.examples.simulator.SimulatedPods;
import dev.epp.metrics.export.EppMetrics;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.server.EppServer;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Prefill/decode disaggregation end to end through the real ext_proc path: a client, the {@code gateway} command
 * talking ext_proc over gRPC to an {@link EppServer} on free ports, the decode pod the EPP picked, and the prefill pod
 * it named in {@code x-prefiller-host-port}. The EPP runs llm-d's guide decider, {@code always-disagg-pd-decider}, so
 * even a short prompt is prefilled separately. ({@code DemoWalkthroughTest} covers {@code examples/configs/pd.yaml}
 * through the demo, whose gateway also talks ext_proc.)
 */
class PdThroughExtProcTest {

  private static final String ALWAYS_DISAGG = """
      apiVersion: llm-d.ai/v1alpha1
      kind: EndpointPickerConfig
      plugins:
      - type: always-disagg-pd-decider
      - type: disagg-profile-handler
        parameters:
          deciders:
            prefill: always-disagg-pd-decider
      - type: prefill-filter
      - type: decode-filter
      - type: queue-scorer
      schedulingProfiles:
      - name: prefill
        plugins:
        - pluginRef: prefill-filter
        - pluginRef: queue-scorer
      - name: decode
        plugins:
        - pluginRef: decode-filter
        - pluginRef: queue-scorer
      """;
  private static final String COMPLETION = "{\"model\":\"" + SimulatedPods.model()
      + "\",\"prompt\":\"Hello\",\"max_tokens\":4}";

  private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private final ObjectMapper json = new ObjectMapper();
  private final ByteArrayOutputStream gatewayErr = new ByteArrayOutputStream();
  private final List<AutoCloseable> resources = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = resources.size() - 1; i >= 0; i--) {
      resources.get(i).close();
    }
  }

  @Test
  void theDecodePodPullsItsPrefillFromThePrefillPodTheEppNamedAndTheEppCountsTheDecision(@TempDir Path dir)
      throws Exception {
    SimulatedPods pods = new SimulatedPods(dir.resolve("endpoints.txt"), 0, 2, true);
    resources.add(pods);
    List<SimulatedPods.Pod> running = pods.scale(2); // vllm-0 prefill, vllm-1 decode
    EppServer epp = epp(dir.resolve("endpoints.txt"), 2, EndpointMetrics.DEFAULT_STALENESS_THRESHOLD);
    int gateway = gateway(epp);

    HttpResponse<String> response = post(gateway);

    assertEquals(200, response.statusCode(), response.body());
    assertEquals(running.get(1).hostPort(),
        response.headers().firstValue("x-gateway-destination-endpoint-served").orElse(""));
    assertEquals("vllm-0-rank-0", response.headers().firstValue("x-simulator-prefilled-by").orElse(""));
    assertEquals("vllm-1-rank-0", response.headers().firstValue("x-simulator-decoded-by").orElse(""));
    int promptTokens = json.readTree(response.body()).path("usage").path("prompt_tokens").asInt();
    assertTrue(promptTokens > 1, response.body());
    assertEquals(promptTokens, counter(running.get(0).hostPort(), "vllm:prompt_tokens_by_source_total{",
        "source=\"local_compute\""));
    assertEquals(promptTokens - 1, counter(running.get(1).hostPort(), "vllm:prompt_tokens_by_source_total{",
        "source=\"external_kv_transfer\""));
    assertEquals(1, counter("127.0.0.1:" + epp.metricsPort(), "llm_d_epp_disagg_decision_total{",
        "decision_type=\"prefill-decode\""));
    assertEquals(0, counter("127.0.0.1:" + epp.metricsPort(), "llm_d_epp_disagg_decision_total{",
        "decision_type=\"decode-only\""));
  }

  /**
   * The prefill pod stops after the EPP's last scrape of it, within the metrics staleness threshold (10 minutes here,
   * so that the test does not race the scraper): the EPP still names it, and the decode pod answers 502 naming it.
   */
  @Test
  void aPrefillPodThatWentDownIsABadGatewayErrorNamingIt(@TempDir Path dir) throws Exception {
    SimulatedPods prefillPods = new SimulatedPods(dir.resolve("prefill.txt"), 0, 1, true);
    resources.add(prefillPods);
    SimulatedPods.Pod prefill = prefillPods.scale(1).get(0); // vllm-0, prefill
    SimulatedPods decodePods = new SimulatedPods(dir.resolve("decode.txt"), 0, 2, true);
    resources.add(decodePods);
    SimulatedPods.Pod decode = decodePods.scale(2).get(1); // vllm-1, decode
    Path endpoints = Files.writeString(dir.resolve("endpoints.txt"),
        "prefill-0 " + prefill.hostPort() + " llm-d.ai/role=prefill\n"
            + "decode-0 " + decode.hostPort() + " llm-d.ai/role=decode\n");
    EppServer epp = epp(endpoints, 2, Duration.ofMinutes(10));
    int gateway = gateway(epp);
    prefillPods.close();

    HttpResponse<String> response = post(gateway);

    assertEquals(502, response.statusCode(), response.body());
    JsonNode error = json.readTree(response.body());
    assertEquals("BadGateway", error.path("type").asText(), response.body());
    assertEquals("cannot connect to prefill pod " + prefill.hostPort(), error.path("message").asText(),
        response.body());
    assertEquals(1, counter("127.0.0.1:" + epp.metricsPort(), "llm_d_epp_disagg_decision_total{",
        "decision_type=\"prefill-decode\""));
  }

  /** An EPP over the endpoints {@code file}, on free ports, once {@code endpoints} of them are ready. */
  private EppServer epp(Path file, int endpoints, Duration metricsStaleness) throws Exception {
    EndpointPickerConfig config = EndpointPickerConfig.loader().metrics(EppMetrics.create())
        .parse(ALWAYS_DISAGG, "always-disagg");
    EppServer epp = EppServer.builder(config, new FileDiscovery(file)).grpcPort(0).healthPort(0).metricsPort(0)
        .secureServing(false).metricsStalenessThreshold(metricsStaleness)
        .refreshPrometheusMetricsInterval(Duration.ofMillis(200)).build().start();
    resources.add(epp);
    Awaitility.await("the EPP lists " + endpoints + " endpoints").atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100))
        .until(() -> get("127.0.0.1:" + epp.metricsPort()).lines()
            .anyMatch(l -> l.startsWith("inference_pool_ready_pods{") && l.endsWith(" " + endpoints)));
    return epp;
  }

  /** Runs the {@code gateway} command against {@code epp}'s ext_proc port; returns the gateway's port. */
  private int gateway(EppServer epp) throws Exception {
    GatewayCommand command = new GatewayCommand(new PrintStream(new ByteArrayOutputStream(), true,
        StandardCharsets.UTF_8), new PrintStream(gatewayErr, true, StandardCharsets.UTF_8));
    CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> command.run(new String[] {
        "--port", "0", "--epp", "127.0.0.1:" + epp.grpcPort()}));
    resources.add(() -> {
      command.stop();
      assertEquals(0, exit.get(15, TimeUnit.SECONDS));
      assertEquals("", gatewayErr.toString(StandardCharsets.UTF_8));
    });
    Gateway gateway = command.started().get(20, TimeUnit.SECONDS);
    assertNotNull(gateway, gatewayErr.toString(StandardCharsets.UTF_8));
    return gateway.port();
  }

  private HttpResponse<String> post(int gateway) throws Exception {
    return client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway + "/v1/completions"))
        .timeout(Duration.ofSeconds(30)).header("content-type", "application/json")
        .POST(BodyPublishers.ofString(COMPLETION)).build(), BodyHandlers.ofString());
  }

  private String get(String hostPort) throws Exception {
    HttpResponse<String> response = client.send(HttpRequest.newBuilder(URI.create("http://" + hostPort
        + "/metrics")).timeout(Duration.ofSeconds(30)).build(), BodyHandlers.ofString());
    assertEquals(200, response.statusCode());
    return response.body();
  }

  /** The sum of the {@code /metrics} samples at {@code hostPort} whose series starts with {@code prefix} and has
   * {@code label}. */
  private long counter(String hostPort, String prefix, String label) throws Exception {
    return Math.round(get(hostPort).lines().filter(l -> l.startsWith(prefix) && l.contains(label))
        .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum());
  }
}
