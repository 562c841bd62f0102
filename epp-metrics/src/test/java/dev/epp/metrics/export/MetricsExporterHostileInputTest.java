package dev.epp.metrics.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.prometheus.client.Collector;
import io.prometheus.client.CollectorRegistry;
import io.prometheus.client.GaugeMetricFamily;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code /metrics} against what an attacker or a careless client sends: unbounded model names (which become label
 * values), slow or silent connections, oversized requests, more scrapes than the exporter renders at once, and a
 * registry that fails while the page is written. Everything runs over loopback against the real exporter.
 */
class MetricsExporterHostileInputTest {

  /** Guards against a hang; far above what any of these requests needs. */
  private static final Duration HANG = Duration.ofSeconds(30);
  private static final String TOKEN = "s3cret";

  private final HttpClient client = HttpClient.newBuilder().connectTimeout(HANG).build();
  private final List<AutoCloseable> resources = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = resources.size() - 1; i >= 0; i--) {
      resources.get(i).close();
    }
  }

  private MetricsExporter start(MetricsRegistry registry, String token, Duration headTimeout) {
    MetricsExporter exporter = MetricsExporter.start(
        new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), registry, token, headTimeout);
    resources.add(exporter);
    return exporter;
  }

  private MetricsExporter start(EppMetrics metrics) {
    resources.add(metrics);
    return start(metrics.registry(), null, MetricsExporter.HEAD_TIMEOUT);
  }

  private HttpResponse<String> get(MetricsExporter exporter, String token) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(
        URI.create("http://127.0.0.1:" + exporter.port() + "/metrics")).timeout(HANG);
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    return client.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private Socket connect(MetricsExporter exporter) throws IOException {
    Socket socket = new Socket(InetAddress.getLoopbackAddress(), exporter.port());
    socket.setSoTimeout((int) HANG.toMillis());
    resources.add(socket);
    return socket;
  }

  // ---- label values chosen by clients ---------------------------------------------------------------------------

  @Test
  void aOneMebibyteModelNameIsCutAndThePageStaysSmall() throws Exception {
    EppMetrics metrics = EppMetrics.create(MetricsRegistry.create());
    MetricsExporter exporter = start(metrics);
    String huge = "m".repeat(1 << 20);
    for (String model : List.of(huge, huge.replace('m', 'n'))) {
      recordRequest(metrics, model, model);
    }

    HttpResponse<String> response = get(exporter, null);
    assertEquals(200, response.statusCode());
    assertTrue(response.body().length() < 256 * 1024, "page of " + response.body().length() + " chars");
    assertEquals(Set.of("m".repeat(128), "n".repeat(128)), labelValues(response.body(), "model_name"));
  }

  @Test
  void modelNamesPastTheFirstThousandAreCountedAsOther() throws Exception {
    EppMetrics metrics = EppMetrics.create(MetricsRegistry.create());
    MetricsExporter exporter = start(metrics);
    for (int i = 0; i < 3000; i++) {
      String model = "model-" + i;
      metrics.requestStarted(model);
      metrics.recordRequest(model, model, 0);
    }

    String page = get(exporter, null).body();
    List<String> totals = grep(page, "inference_objective_request_total{");
    assertEquals(1001, totals.size());
    assertTrue(totals.contains("inference_objective_request_total{model_name=\"other\",priority=\"0\","
        + "target_model_name=\"other\"} 2000"), totals.toString());
    assertEquals(3000, totals.stream().mapToDouble(MetricsExporterHostileInputTest::value).sum(), "none lost");
    assertEquals(1001, labelValues(page, "model_name").size());
    assertTrue(grep(page, "inference_objective_running_requests{").contains(
        "inference_objective_running_requests{model_name=\"other\"} 2000"));
  }

  @Test
  void targetModelsChosenPerRequestCannotMultiplyTheSeries() throws Exception {
    EppMetrics metrics = EppMetrics.create(MetricsRegistry.create());
    MetricsExporter exporter = start(metrics);
    // x-gateway-model-name-rewrite lets a client pick the target: 40 x 100 pairs from 140 distinct names.
    for (int m = 0; m < 40; m++) {
      for (int t = 0; t < 100; t++) {
        metrics.recordRequest("model-" + m, "target-" + t, 0);
        metrics.recordSchedulingAttempt("target-" + t, null);
      }
    }

    List<String> totals = grep(get(exporter, null).body(), "inference_objective_request_total{");
    assertEquals(900 + 1, totals.size(), "at most 1000 pairs and other");
    assertTrue(totals.contains("inference_objective_request_total{model_name=\"other\",priority=\"0\","
        + "target_model_name=\"other\"} 3100"), "900 pairs kept, and the 100 (target, target) pairs");
    assertEquals(4000, totals.stream().mapToDouble(MetricsExporterHostileInputTest::value).sum(), "none lost");
  }

  /** What the Director records for one request. */
  private static void recordRequest(EppMetrics metrics, String model, String target) {
    metrics.recordRequest(model, target, 0);
    metrics.recordRequestSize(model, target, 100);
    metrics.recordResponseSize(model, target, 100);
    metrics.recordTokens(model, target, 10, 10);
    metrics.recordRequestDuration(model, target, 1_000_000, 10);
    metrics.recordSchedulingAttempt(target, null);
  }

  // ---- a failing registry ---------------------------------------------------------------------------------------

  @Test
  void aPageThatCannotBeWrittenAnswers500AndLaterScrapesRecover() throws Exception {
    AtomicReference<Error> failure = new AtomicReference<>(new OutOfMemoryError("Java heap space"));
    CollectorRegistry registry = new CollectorRegistry();
    new Collector() {
      @Override
      public List<MetricFamilySamples> collect() {
        Error e = failure.get();
        if (e != null) {
          throw e;
        }
        return List.of(new GaugeMetricFamily("up_gauge", "help", 1));
      }
    }.register(registry);
    MetricsExporter exporter = start(new MetricsRegistry(registry), null, MetricsExporter.HEAD_TIMEOUT);

    HttpResponse<String> failed = get(exporter, null);
    assertEquals(500, failed.statusCode());
    assertEquals("500 internal server error\n", failed.body());

    failure.set(null);
    HttpResponse<String> recovered = get(exporter, null);
    assertEquals(200, recovered.statusCode());
    assertTrue(recovered.body().contains("\nup_gauge 1\n"), recovered.body());
  }

  // ---- slow and silent clients ----------------------------------------------------------------------------------

  @ParameterizedTest
  @ValueSource(strings = {"", TOKEN})
  void clientsSendingNothingOrHalfARequestDoNotBlockAnother(String token) throws Exception {
    String required = token.isEmpty() ? null : token;
    MetricsExporter exporter = start(EppMetrics.create(MetricsRegistry.create()).registry(), required,
        MetricsExporter.HEAD_TIMEOUT);
    connect(exporter); // sends nothing
    OutputStream half = connect(exporter).getOutputStream();
    half.write("GET /met".getBytes(StandardCharsets.US_ASCII));
    half.flush();
    Socket headers = connect(exporter); // a complete request line, headers never finished
    headers.getOutputStream().write("GET /metrics HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII));

    HttpResponse<String> response = get(exporter, required);
    assertEquals(200, response.statusCode());
    assertTrue(response.body().contains("inference_extension_info"), response.body());
  }

  @Test
  void slowClientsAreClosedAfterTheHeadTimeout() throws Exception {
    MetricsExporter exporter = start(MetricsRegistry.create(), null, Duration.ofMillis(200));
    Socket silent = connect(exporter);
    Socket half = connect(exporter);
    half.getOutputStream().write("GET /metrics HT".getBytes(StandardCharsets.US_ASCII));

    assertEquals(-1, silent.getInputStream().read(), "closed without a response");
    assertEquals(-1, half.getInputStream().read(), "closed without a response");
  }

  @Test
  void moreIdleConnectionsThanSlotsCannotLockOthersOut() throws Exception {
    MetricsExporter exporter = start(MetricsRegistry.create(), null, MetricsExporter.HEAD_TIMEOUT);
    List<Socket> idle = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      idle.add(connect(exporter));
    }
    assertEquals(200, get(exporter, null).statusCode());
    int closed = 0;
    for (Socket socket : idle.subList(0, 100)) { // the oldest were dropped to make room
      closed += socket.getInputStream().read() == -1 ? 1 : 0;
    }
    assertEquals(100, closed);
  }

  @Test
  void anOversizedRequestHeadIsRefused() throws Exception {
    MetricsExporter exporter = start(MetricsRegistry.create(), null, MetricsExporter.HEAD_TIMEOUT);
    Socket socket = connect(exporter);
    socket.getOutputStream().write(("GET /metrics HTTP/1.1\r\nX-Filler: " + "x".repeat(10_000) + "\r\n\r\n")
        .getBytes(StandardCharsets.US_ASCII));
    String response = new String(socket.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
    assertTrue(response.startsWith("HTTP/1.1 431 "), response);
  }

  @Test
  void scrapesBeyondThoseInProgressGet503UntilTheyFinish() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch rendering = new CountDownLatch(2);
    CollectorRegistry registry = new CollectorRegistry();
    new Collector() {
      @Override
      public List<MetricFamilySamples> collect() {
        rendering.countDown();
        try {
          release.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        return List.of(new GaugeMetricFamily("up_gauge", "help", 1));
      }
    }.register(registry);
    MetricsExporter exporter = start(new MetricsRegistry(registry), null, MetricsExporter.HEAD_TIMEOUT);

    List<CompletableFuture<HttpResponse<String>>> scrapes = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      scrapes.add(client.sendAsync(HttpRequest.newBuilder(
              URI.create("http://127.0.0.1:" + exporter.port() + "/metrics")).timeout(HANG).build(),
          HttpResponse.BodyHandlers.ofString()));
    }
    // Four are taken (two render, two wait for a renderer) and cannot finish; the six others are refused at once.
    Await.until("six scrapes refused", () -> scrapes.stream().filter(CompletableFuture::isDone).count() == 6);
    rendering.await();
    for (CompletableFuture<HttpResponse<String>> f : scrapes) {
      if (f.isDone()) {
        assertEquals(503, f.get().statusCode());
        assertTrue(f.get().body().contains("too many requests in progress"), f.get().body());
      }
    }

    release.countDown();
    assertEquals(4, scrapes.stream().filter(f -> f.join().statusCode() == 200).count());
    assertEquals(200, get(exporter, null).statusCode());
  }

  // ---- helpers --------------------------------------------------------------------------------------------------

  private static List<String> grep(String page, String prefix) {
    return Arrays.stream(page.split("\n")).filter(l -> l.startsWith(prefix)).toList();
  }

  private static double value(String sample) {
    return Double.parseDouble(sample.substring(sample.lastIndexOf(' ') + 1));
  }

  private static Set<String> labelValues(String page, String label) {
    Matcher m = Pattern.compile("[{,]" + label + "=\"([^\"]*)\"").matcher(page);
    return m.results().map(r -> r.group(1)).collect(Collectors.toSet());
  }
}
