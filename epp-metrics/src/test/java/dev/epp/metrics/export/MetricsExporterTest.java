package dev.epp.metrics.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.Ticker;
import io.prometheus.client.CollectorRegistry;
import io.prometheus.client.Counter;
import java.io.IOException;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class MetricsExporterTest {

  private final HttpClient client = HttpClient.newHttpClient();
  private MetricsExporter exporter;

  @AfterEach
  void close() {
    if (exporter != null) {
      exporter.close();
    }
  }

  private MetricsExporter start(MetricsRegistry registry, String token) {
    exporter = MetricsExporter.start(
        new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), registry, token);
    return exporter;
  }

  private HttpResponse<String> request(String method, String path, String authorization)
      throws IOException, InterruptedException {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + exporter.port() + path))
        .method(method, HttpRequest.BodyPublishers.noBody());
    if (authorization != null) {
      b.header("Authorization", authorization);
    }
    return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void servesTextFormatWithJvmMetricsAndWithoutCreatedSeries() throws Exception {
    EppMetrics metrics = EppMetrics.create();
    metrics.recordRequest("m", "t", 0);
    start(metrics.registry(), null);
    HttpResponse<String> response = request("GET", "/metrics", null);
    assertEquals(200, response.statusCode());
    assertEquals("text/plain; version=0.0.4; charset=utf-8", response.headers().firstValue("Content-Type").orElse(""));
    String body = response.body();
    assertTrue(body.contains("\ninference_objective_request_total{model_name=\"m\",priority=\"0\",target_model_name=\"t\"} 1\n"),
        body);
    assertTrue(body.contains("\njvm_threads_current "), "JVM metrics");
    assertTrue(body.contains("\nprocess_cpu_seconds_total "), "process metrics");
    assertFalse(body.contains("_created"), "no _created series");
  }

  /** An embedder that serves metrics itself writes the same page, and components share one registry. */
  @Test
  void aRegistryWritesThePageTheExporterServesAndIsShared() throws Exception {
    MetricsRegistry shared = MetricsRegistry.create();
    EppMetrics metrics = EppMetrics.create(shared);
    metrics.recordRequest("m", "t", 0);
    assertThrows(IllegalArgumentException.class, () -> EppMetrics.create(shared), "a family is registered once");
    start(shared, null);
    StringWriter written = new StringWriter();
    shared.writeTo(written);
    String page = written.toString();
    assertTrue(page.contains("\ninference_objective_request_total{model_name=\"m\",priority=\"0\","
        + "target_model_name=\"t\"} 1\n"), page);
    assertFalse(page.contains("jvm_"), "an empty registry holds only what was created into it");
    assertEquals(page, request("GET", "/metrics", null).body());
    assertEquals(MetricsRegistry.CONTENT_TYPE,
        request("GET", "/metrics", null).headers().firstValue("Content-Type").orElse(""));
  }

  @Test
  void pagesAreServedOnThreadsOfTheSuppliedFactoryWhichEndOnClose() throws Exception {
    List<Thread> made = new CopyOnWriteArrayList<>();
    Set<String> ranOn = ConcurrentHashMap.newKeySet();
    ThreadFactory factory = r -> {
      Thread t = new Thread(() -> {
        ranOn.add(Thread.currentThread().getName());
        r.run();
      }, "embedder-exporter-" + (made.size() + 1));
      t.setDaemon(true);
      made.add(t);
      return t;
    };
    exporter = MetricsExporter.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
        MetricsRegistry.create(), null, factory);
    assertEquals(200, request("GET", "/metrics", null).statusCode());
    assertTrue(ranOn.containsAll(List.of("embedder-exporter-1", "embedder-exporter-2")), ranOn.toString());
    exporter.close();
    Await.until("the exporter's threads end", () -> made.stream().noneMatch(Thread::isAlive));
  }

  @Test
  void poolGaugesRefreshOnTheSuppliedSchedulerWhichCloseDoesNotShutDown() {
    AtomicInteger runs = new AtomicInteger();
    ScheduledThreadPoolExecutor scheduler = new ScheduledThreadPoolExecutor(1, r -> new Thread(r, "embedder")) {
      @Override
      protected void beforeExecute(Thread t, Runnable r) {
        assertEquals("embedder", t.getName());
        runs.incrementAndGet();
      }
    };
    scheduler.setRemoveOnCancelPolicy(true);
    try {
      EppMetrics metrics = EppMetrics.create(MetricsRegistry.create());
      metrics.monitorPool("p", new dev.epp.scheduler.EndpointPool(), Ticker.system(), Duration.ofSeconds(2),
          Duration.ofMillis(10), scheduler);
      Await.until("refreshed on the scheduler more than once", () -> runs.get() >= 2);
      metrics.close();
      assertFalse(scheduler.isShutdown());
      assertTrue(scheduler.getQueue().stream().allMatch(task -> ((java.util.concurrent.Future<?>) task).isCancelled()),
          "the refresh is cancelled");
    } finally {
      scheduler.shutdownNow();
    }
  }

  @Test
  void bearerTokenIsRequiredWhenConfigured() throws Exception {
    CollectorRegistry registry = new CollectorRegistry();
    Counter.build("c_total", "help").register(registry).inc();
    start(new MetricsRegistry(registry), "s3cret");

    HttpResponse<String> missing = request("GET", "/metrics", null);
    assertEquals(401, missing.statusCode());
    assertTrue(missing.body().contains("curl -H \"Authorization: Bearer $TOKEN\""), missing.body());
    assertEquals("Bearer realm=\"epp-metrics\"", missing.headers().firstValue("WWW-Authenticate").orElse(""));
    assertEquals(401, request("GET", "/metrics", "Bearer wrong").statusCode());
    assertEquals(401, request("GET", "/metrics", "Bearer s3cret2").statusCode());
    assertEquals(401, request("GET", "/metrics", "Basic czNjcmV0").statusCode());

    HttpResponse<String> ok = request("GET", "/metrics", "Bearer s3cret");
    assertEquals(200, ok.statusCode());
    assertTrue(ok.body().contains("\nc_total 1\n"), ok.body());
  }

  @Test
  void otherPathsAndMethods() throws Exception {
    start(MetricsRegistry.create(), null);
    assertEquals(404, request("GET", "/", null).statusCode());
    assertEquals(404, request("GET", "/metricsx", null).statusCode());
    HttpResponse<String> post = request("POST", "/metrics", null);
    assertEquals(405, post.statusCode());
    assertEquals("GET, HEAD", post.headers().firstValue("Allow").orElse(""));
    assertEquals(200, request("HEAD", "/metrics", null).statusCode());
  }

  @Test
  void servesOtherPagesUnderTheSameTokenAndMethods() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    exporter = MetricsExporter.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
        MetricsRegistry.create(), "s3cret", Map.of(
            "/debug/n", () -> new MetricsExporter.Document("application/json",
                ("{\"n\":" + calls.incrementAndGet() + "}").getBytes(StandardCharsets.UTF_8)),
            "/broken", () -> {
              throw new IllegalStateException("no");
            },
            "/", () -> new MetricsExporter.Document("text/html", "<p>no data</p>".getBytes(StandardCharsets.UTF_8))),
        Set.of("/"));
    assertEquals(200, request("GET", "/", null).statusCode(), "a page without data needs no token");
    assertEquals(401, request("GET", "/debug/n", null).statusCode());
    assertEquals(0, calls.get(), "an unauthorized request computes nothing");
    HttpResponse<String> first = request("GET", "/debug/n", "Bearer s3cret");
    assertEquals(200, first.statusCode());
    assertEquals("{\"n\":1}", first.body());
    assertEquals("application/json", first.headers().firstValue("Content-Type").orElse(""));
    assertEquals("no-store", first.headers().firstValue("Cache-Control").orElse(""));
    assertEquals("{\"n\":2}", request("GET", "/debug/n", "Bearer s3cret").body(), "computed per request");
    assertEquals(405, request("POST", "/debug/n", "Bearer s3cret").statusCode());
    assertEquals(500, request("GET", "/broken", "Bearer s3cret").statusCode());
    assertEquals(404, request("GET", "/debug/other", "Bearer s3cret").statusCode());
    assertEquals(200, request("GET", "/metrics", "Bearer s3cret").statusCode());
    assertThrows(IllegalArgumentException.class, () -> MetricsExporter.start(
        new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), MetricsRegistry.create(), null,
        Map.of("/metrics", () -> new MetricsExporter.Document("text/plain", new byte[0])), Set.of()));
    assertThrows(IllegalArgumentException.class, () -> MetricsExporter.start(
        new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), MetricsRegistry.create(), null, Map.of(),
        Set.of("/elsewhere")));
  }
}
