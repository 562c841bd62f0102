package dev.epp.metrics.scrape;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.EndpointStore;
import dev.epp.api.Ticker;
import dev.epp.scheduler.EndpointPool;
import dev.epp.testkit.LogCapture;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The scraper against real HTTP model servers on loopback, writing into the real endpoint pool. */
class MetricsScraperTest {

  /** Short, so failure-mode tests finish quickly; the default is 2 s. */
  private static final long STALE_NANOS = Duration.ofMillis(500).toNanos();

  private final EndpointPool pool = new EndpointPool();
  private final List<AutoCloseable> closeables = new ArrayList<>();
  private final Ticker ticker = Ticker.system();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
  }

  private <T extends AutoCloseable> T closing(T closeable) {
    closeables.add(closeable);
    return closeable;
  }

  private MetricsScraper start(MetricsScraper.Builder builder) {
    MetricsScraper scraper = closing(builder.interval(Duration.ofMillis(20)).ticker(ticker).build());
    scraper.start();
    return scraper;
  }

  private ModelServer server(String page) {
    return closing(new ModelServer(page));
  }

  private EndpointMetrics metrics(String name) {
    var snapshot = pool.snapshot();
    for (int i = 0; i < snapshot.size(); i++) {
      if (snapshot.endpoint(i).name().equals(name)) {
        return snapshot.metrics(i);
      }
    }
    throw new AssertionError("no endpoint " + name);
  }

  private boolean fresh(String name) {
    return metrics(name).isFresh(ticker.nanos(), STALE_NANOS);
  }

  @Test
  void valuesFlowIntoThePool() throws IOException {
    ModelServer vllm = server(new String(PrometheusParserTest.resource("vllm-metrics.txt"), StandardCharsets.UTF_8));
    ModelServer sglang = server(
        new String(PrometheusParserTest.resource("sglang-metrics.txt"), StandardCharsets.UTF_8));
    pool.upsert(Endpoint.of("vllm-rank-0", "127.0.0.1", vllm.port()));
    start(MetricsScraper.builder(pool));
    // Added after start: picked up through the store listener, with its engine from the label.
    pool.upsert(new Endpoint("sglang-rank-0", "127.0.0.1", sglang.port(),
        Map.of(MetricMappings.DEFAULT_ENGINE_LABEL_KEY, "sglang")));

    Await.until("vLLM metrics scraped", () -> metrics("vllm-rank-0").cacheNumBlocks() == 81767);
    EndpointMetrics m = metrics("vllm-rank-0");
    assertEquals(3, m.waitingQueueSize());
    assertEquals(7, m.runningRequests());
    assertEquals(0.4217, m.kvCacheUsage());
    assertEquals(Set.of("sql-lora", "tweet-summary"), m.activeModels());
    Await.until("SGLang metrics scraped", () -> metrics("sglang-rank-0").cacheBlockSize() == 64);
    assertEquals(4, metrics("sglang-rank-0").waitingQueueSize());

    // Live values: the next polls see a changed page.
    vllm.page(ModelServer.vllmPage(11, 2, 0.9));
    Await.until("new vLLM values", () -> metrics("vllm-rank-0").waitingQueueSize() == 11);
    assertEquals(81767, metrics("vllm-rank-0").cacheNumBlocks(), "fields absent from the page keep their values");
    long before = metrics("vllm-rank-0").updatedNanos();
    Await.until("updatedNanos advances with every successful poll", () -> metrics("vllm-rank-0").updatedNanos() > before);
  }

  @Test
  void theConfigurationsExtractorMappingsReplaceTheBuildersAndTwoSourcesAreRefused() {
    ModelServer server = server("my_queue 42\n");
    pool.upsert(Endpoint.of("a-rank-0", "127.0.0.1", server.port()));
    MetricMappings custom = MetricMappings.of(MetricMappings.DEFAULT_ENGINE_LABEL_KEY, "custom",
        List.of(EngineMapping.builder("custom").queuedRequests("my_queue").build()));
    start(MetricsScraper.builder(pool).dataLayer(List.of(new CoreMetricsExtractor("extractor", custom))));
    Await.until("the extractor's metric is read", () -> metrics("a-rank-0").waitingQueueSize() == 42);

    CoreMetricsExtractor another = new CoreMetricsExtractor("another", custom);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MetricsScraper.builder(pool)
        .dataLayer(List.of(new CoreMetricsExtractor("extractor", custom), another)));
    assertEquals("the configuration has more than one core-metrics-extractor plugin; a pool has one metrics source",
        e.getMessage());
  }

  @Test
  void removedEndpointsAreNoLongerPolled() {
    ModelServer server = server(ModelServer.vllmPage(1, 1, 0.1));
    pool.upsert(Endpoint.of("a-rank-0", "127.0.0.1", server.port()));
    MetricsScraper scraper = start(MetricsScraper.builder(pool));
    Await.until("scraped", () -> fresh("a-rank-0"));
    pool.remove("a-rank-0");
    Await.until("untracked", () -> scraper.endpointCount() == 0);
    int requests = server.requests();
    // Later polls of other endpoints prove time passed without assuming how much.
    ModelServer other = server(ModelServer.vllmPage(1, 1, 0.1));
    pool.upsert(Endpoint.of("b-rank-0", "127.0.0.1", other.port()));
    Await.until("other polled several times", () -> other.requests() >= 5);
    assertTrue(server.requests() <= requests + 1, "at most one poll was in flight when it was removed");
  }

  /**
   * An endpoint that fails after it left the pool, but before the scraper heard of it (a listener ahead of the
   * scraper's holds the removal), is not reported as failing: it was removed on purpose.
   */
  @Test
  void anEndpointThatLeftThePoolIsNotReportedAsFailing() {
    ModelServer server = server(ModelServer.vllmPage(1, 1, 0.1));
    pool.upsert(Endpoint.of("leaving-rank-0", "127.0.0.1", server.port()));
    pool.addListener(new EndpointStore.Listener() {
      @Override
      public void added(Endpoint endpoint) {}

      @Override
      public void removed(Endpoint endpoint) {
        // The hung poll times out meanwhile; the next request shows the scraper has handled that failure.
        int requests = server.requests();
        Await.until("a poll after the failed one", () -> server.requests() > requests);
      }
    });
    try (LogCapture logs = new LogCapture()) {
      MetricsScraper scraper = start(MetricsScraper.builder(pool).timeout(Duration.ofSeconds(2)));
      Await.until("scraped", () -> fresh("leaving-rank-0"));
      server.mode(ModelServer.Mode.HANG);
      Await.until("a poll hangs", () -> server.hanging() == 1);
      pool.remove("leaving-rank-0");
      Await.until("untracked", () -> scraper.endpointCount() == 0);
      assertEquals(List.of(), logs.lines("WARN", "leaving-rank-0"));
    }
  }

  /** The pool's listeners run on the writer's thread: an endpoint the scraper cannot use must not fail the write. */
  @Test
  void anAddressNoUrlCanHoldFailsNeitherThePoolNorOtherEndpoints() {
    MetricsScraper scraper = start(MetricsScraper.builder(pool).scheme("https"));
    pool.upsert(Endpoint.of("odd-rank-0", "999.1.1.1", 8443));
    pool.upsert(Endpoint.of("fine-rank-0", "127.0.0.1", 8443));
    assertEquals(1, scraper.endpointCount());
  }

  @Test
  void aCompressedPageIsReportedAsSuch() {
    ModelServer server = server(ModelServer.vllmPage(1, 1, 0.1));
    server.mode(ModelServer.Mode.GZIP);
    pool.upsert(Endpoint.of("gzip-rank-0", "127.0.0.1", server.port()));
    try (LogCapture logs = new LogCapture()) {
      start(MetricsScraper.builder(pool));
      Await.until("the failure logged", () -> !logs.lines("WARN", "gzip-rank-0").isEmpty());
      String warning = logs.lines("WARN", "gzip-rank-0").get(0);
      assertTrue(warning.contains("Content-Encoding: gzip although asked for identity"), warning);
      assertEquals("identity", server.acceptEncoding());
    }
  }

  /**
   * A server that misbehaves goes stale within the staleness window while a healthy one keeps updating, and it
   * recovers when it behaves again.
   */
  @ParameterizedTest
  @EnumSource(value = ModelServer.Mode.class, names = {"ERROR_500", "HANG", "JUNK_10MB", "ENDLESS"})
  void misbehavingServerGoesStaleWhileOthersKeepUpdating(ModelServer.Mode mode) {
    ModelServer healthy = server(ModelServer.vllmPage(1, 1, 0.1));
    ModelServer bad = server(ModelServer.vllmPage(5, 5, 0.5));
    pool.upsert(Endpoint.of("healthy-rank-0", "127.0.0.1", healthy.port()));
    pool.upsert(Endpoint.of("bad-rank-0", "127.0.0.1", bad.port()));
    start(MetricsScraper.builder(pool).timeout(Duration.ofMillis(300)).maxBodyBytes(1 << 20));
    Await.until("both scraped", () -> fresh("healthy-rank-0") && fresh("bad-rank-0"));

    bad.mode(mode);
    Await.until("bad endpoint stale", () -> !fresh("bad-rank-0"), () -> metrics("bad-rank-0").toString());
    assertEquals(5, metrics("bad-rank-0").waitingQueueSize(), "last values are kept, only their age grows");
    assertTrue(fresh("healthy-rank-0"), "the healthy endpoint kept updating");
    healthy.page(ModelServer.vllmPage(2, 1, 0.1));
    Await.until("healthy endpoint sees new values", () -> metrics("healthy-rank-0").waitingQueueSize() == 2);

    bad.mode(ModelServer.Mode.OK);
    bad.page(ModelServer.vllmPage(6, 5, 0.5));
    Await.until("bad endpoint recovers", () -> fresh("bad-rank-0") && metrics("bad-rank-0").waitingQueueSize() == 6);
  }

  @Test
  void garbageAndTenMegabytesOfJunkUnderTheDefaultCapGoStale() {
    ModelServer healthy = server(ModelServer.vllmPage(1, 1, 0.1));
    ModelServer garbage = server(ModelServer.vllmPage(5, 5, 0.5));
    ModelServer junk = server(ModelServer.vllmPage(5, 5, 0.5));
    pool.upsert(Endpoint.of("healthy-rank-0", "127.0.0.1", healthy.port()));
    pool.upsert(Endpoint.of("garbage-rank-0", "127.0.0.1", garbage.port()));
    pool.upsert(Endpoint.of("junk-rank-0", "127.0.0.1", junk.port()));
    start(MetricsScraper.builder(pool).interval(Duration.ofMillis(100)));
    Await.until("all scraped", () -> fresh("healthy-rank-0") && fresh("garbage-rank-0") && fresh("junk-rank-0"));

    garbage.page("<html><body>502 Bad Gateway</body></html>\n{{{ \"not metrics\n");
    junk.mode(ModelServer.Mode.JUNK_10MB); // parsed in full (under the 16 MiB cap): no wanted family
    Await.until("garbage and junk stale", () -> !fresh("garbage-rank-0") && !fresh("junk-rank-0"));
    assertTrue(fresh("healthy-rank-0"));
  }

  @Test
  void connectionResetsGoStaleWhileOthersKeepUpdating() throws IOException {
    ModelServer healthy = server(ModelServer.vllmPage(1, 1, 0.1));
    ModelServer.Resetting resetting = closing(new ModelServer.Resetting());
    pool.upsert(Endpoint.of("healthy-rank-0", "127.0.0.1", healthy.port()));
    pool.upsert(Endpoint.of("reset-rank-0", "127.0.0.1", resetting.port()));
    pool.updateMetrics("reset-rank-0", EndpointMetrics.builder().waitingQueueSize(9).updatedNanos(ticker.nanos())
        .build());
    start(MetricsScraper.builder(pool).timeout(Duration.ofMillis(300)));
    Await.until("reset endpoint stale", () -> !fresh("reset-rank-0"));
    assertEquals(9, metrics("reset-rank-0").waitingQueueSize());
    healthy.page(ModelServer.vllmPage(3, 1, 0.1));
    Await.until("healthy endpoint updates", () -> metrics("healthy-rank-0").waitingQueueSize() == 3);
    assertTrue(fresh("healthy-rank-0"));
  }

  @Test
  void pathAndMetricsPortAreConfigurable() {
    ModelServer server = server(ModelServer.vllmPage(4, 1, 0.1));
    pool.upsert(Endpoint.of("a-rank-0", "127.0.0.1", 1)); // the serving port is not the endpoint's port
    start(MetricsScraper.builder(pool).path("/v1/metrics").metricsPort(server.port()));
    Await.until("scraped from the configured port and path", () -> metrics("a-rank-0").waitingQueueSize() == 4);
  }

  @Test
  void notFoundIsAFailedPoll() {
    ModelServer server = server(ModelServer.vllmPage(4, 1, 0.1));
    pool.upsert(Endpoint.of("a-rank-0", "127.0.0.1", server.port()));
    start(MetricsScraper.builder(pool).path("/metricz"));
    Await.until("polled several times", () -> server.requests() >= 3);
    assertEquals(EndpointMetrics.NEVER, metrics("a-rank-0").updatedNanos());
  }

  @Test
  void hungEndpointsDoNotDelayOthersAndTheirPollsNeverOverlap() {
    ModelServer healthy = server(ModelServer.vllmPage(1, 1, 0.1));
    List<ModelServer> hung = new ArrayList<>();
    for (int i = 0; i < 4; i++) { // more than the threads, so hung polls share a thread with the healthy one
      ModelServer server = server(ModelServer.vllmPage(1, 1, 0.1));
      server.mode(ModelServer.Mode.HANG);
      hung.add(server);
      pool.upsert(Endpoint.of("hung-" + i + "-rank-0", "127.0.0.1", server.port()));
    }
    pool.upsert(Endpoint.of("healthy-rank-0", "127.0.0.1", healthy.port()));
    start(MetricsScraper.builder(pool).threads(1).timeout(Duration.ofSeconds(30)));
    Await.until("every hung server has a poll waiting", () -> hung.stream().allMatch(s -> s.requests() >= 1));
    int before = healthy.requests();
    Await.until("the healthy endpoint keeps being polled", () -> healthy.requests() >= before + 10);
    for (ModelServer server : hung) {
      assertEquals(1, server.requests(), "no second poll while the first one waits");
    }
  }

  @Test
  void closeEndsThePollThreadsPromptly() {
    ModelServer server = server(ModelServer.vllmPage(1, 1, 0.1));
    pool.upsert(Endpoint.of("sleepy-rank-0", "127.0.0.1", server.port()));
    Set<Thread> before = pollThreads();
    MetricsScraper scraper = closing(MetricsScraper.builder(pool).interval(Duration.ofHours(1)).build());
    scraper.start();
    Set<Thread> ours = pollThreads();
    ours.removeAll(before);
    assertEquals(2, ours.size(), "one poll loop per thread of the default two");
    scraper.close();
    Await.until("poll threads ended", () -> ours.stream().noneMatch(Thread::isAlive));
  }

  @Test
  void removalClosesAHungPollsConnectionPromptly() throws Exception {
    try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      CompletableFuture<Void> closed = new CompletableFuture<>();
      CountDownLatch requested = new CountDownLatch(1);
      Thread hanging = new Thread(() -> {
        try (Socket s = server.accept()) {
          InputStream in = s.getInputStream();
          byte[] buffer = new byte[4096];
          for (int n; (n = in.read(buffer)) >= 0; ) {
            requested.countDown(); // never answered
          }
          closed.complete(null);
        } catch (IOException e) {
          closed.completeExceptionally(e);
        }
      });
      hanging.setDaemon(true);
      hanging.start();
      pool.upsert(Endpoint.of("stuck-rank-0", "127.0.0.1", server.getLocalPort()));
      // a timeout far beyond the wait below: the connection can only close because of the removal
      start(MetricsScraper.builder(pool).timeout(Duration.ofHours(1)));
      assertTrue(requested.await(10, TimeUnit.SECONDS), "a poll waits on the server");
      pool.remove("stuck-rank-0");
      closed.get(Await.DEADLINE.toSeconds(), TimeUnit.SECONDS);
    }
  }

  @Test
  void pollsRunOnThreadsOfTheSuppliedFactoryWhichEndOnClose() {
    ModelServer server = server(ModelServer.vllmPage(1, 1, 0.1));
    pool.upsert(Endpoint.of("a-rank-0", "127.0.0.1", server.port()));
    List<Thread> made = new CopyOnWriteArrayList<>();
    Set<String> ranOn = ConcurrentHashMap.newKeySet();
    ThreadFactory factory = r -> {
      Thread t = new Thread(() -> {
        ranOn.add(Thread.currentThread().getName());
        r.run();
      }, "embedder-poll-" + (made.size() + 1));
      t.setDaemon(true);
      made.add(t);
      return t;
    };
    MetricsScraper scraper = start(MetricsScraper.builder(pool).threads(2).threadFactory(factory));
    Await.until("scraped", () -> fresh("a-rank-0"));
    assertEquals(Set.of("embedder-poll-1", "embedder-poll-2"), ranOn);
    scraper.close();
    Await.until("the scraper's threads end", () -> made.stream().noneMatch(Thread::isAlive));
  }

  private static Set<Thread> pollThreads() {
    Set<Thread> threads = new HashSet<>();
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.getName().startsWith("epp-metrics-poll-") && t.isAlive()) {
        threads.add(t);
      }
    }
    return threads;
  }
}
