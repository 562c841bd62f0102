package dev.epp.metrics.scrape;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.EndpointStore;
import dev.epp.api.Plugin;
import dev.epp.api.Ticker;
import dev.epp.api.scheduling.Candidates;
import dev.epp.metrics.scrape.internal.BufferPool;
import dev.epp.metrics.scrape.internal.CappedBody;
import dev.epp.metrics.scrape.internal.HttpPollLoop;
import dev.epp.metrics.scrape.internal.HttpResponseParser;
import dev.epp.metrics.scrape.internal.InsecureTls;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Polls every endpoint of an {@link EndpointStore} for its model-server metrics and writes them back with
 * {@link EndpointStore#updateMetrics}.
 *
 * <p>Each endpoint is polled at a fixed rate (default every 50 ms, from a random phase). A poll is an HTTP/1.1 GET
 * with keep-alive, abandoned after the timeout (default 1 s, covering headers and body); a new poll of that endpoint
 * starts only when the previous one has finished, and the ticks that passed meanwhile are skipped. With {@code http}
 * the endpoints are shared among a few poll threads (default 2), each a selector loop over non-blocking connections
 * that also parses the pages: a thread wakes a few times per interval and polls every endpoint whose tick falls
 * within the next tenth of the interval, so polls are batched and no thread switch is spent per page; a hung or slow
 * server holds only its own connection, up to the timeout. With {@code https} a poll is an asynchronous request of
 * the JDK HTTP client, started by a task on a small shared pool of daemon threads. Bodies are capped (default 16 MiB)
 * while they are read. The page is scanned with the endpoint's {@link EngineMapping}, chosen by its engine label;
 * only the configured families are decoded.
 *
 * <p>Requests ask for {@code Accept-Encoding: identity}. On any failure (connection error, timeout, non-200 status,
 * oversized body, a compressed page, a page without any configured metric) the endpoint keeps its last metrics, whose
 * {@link EndpointMetrics#updatedNanos()} then ages: consumers judge staleness by age. Failures are logged when an
 * endpoint starts and stops failing, not on every poll, and not once the endpoint has left the store. Read buffers
 * are shared: a poll holds one only while its response arrives.
 *
 * <p>The plain-text path exists for CPU: the JDK client costs several hundred microseconds of CPU per 50 KB page,
 * against the parse's twenty, and it runs one no-op completion stage of every {@code sendAsync} on the common
 * fork-join pool's executor, which is a new thread per task when that pool's parallelism is below 2 (on one or two
 * available processors). With {@code https} {@link #start()} warns when that is the case; run such processes with
 * {@code -Djava.util.concurrent.ForkJoinPool.common.parallelism=2}.
 *
 * <p><b>Threading:</b> thread-safe. The store listener only starts or stops polling and never blocks.
 * {@link #start()} once, {@link #close()} once.
 */
public final class MetricsScraper implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(MetricsScraper.class);
  private static final AtomicBoolean WARNED_COMMON_POOL = new AtomicBoolean();
  private static final String ACCEPT = "text/plain;version=0.0.4;q=1,*/*;q=0.1";

  private final EndpointStore store;
  private final MetricMappings mappings;
  private final String scheme;
  private final String path;
  private final int metricsPort;
  private final long intervalNanos;
  private final Duration timeout;
  private final int maxBodyBytes;
  private final Ticker ticker;
  private final ScheduledThreadPoolExecutor executor; // https only
  private final HttpClient client; // https only
  private final HttpPollLoop[] loops; // http only
  private final BufferPool buffers = new BufferPool(); // https only
  private final ConcurrentHashMap<String, Target> targets = new ConcurrentHashMap<>();
  private final EndpointStore.Listener listener = new EndpointStore.Listener() {
    @Override
    public void added(Endpoint endpoint) {
      track(endpoint);
    }

    @Override
    public void removed(Endpoint endpoint) {
      untrack(endpoint);
    }
  };
  private final AtomicBoolean started = new AtomicBoolean();
  private volatile boolean closed;

  private MetricsScraper(Builder b) {
    this.store = b.store;
    this.mappings = b.mappings;
    this.scheme = b.scheme;
    this.path = b.path;
    this.metricsPort = b.metricsPort;
    this.intervalNanos = b.interval.toNanos();
    this.timeout = b.timeout;
    this.maxBodyBytes = b.maxBodyBytes;
    this.ticker = b.ticker;
    if (scheme.equals("http")) {
      this.executor = null;
      this.client = null;
      this.loops = new HttpPollLoop[b.threads];
      ThreadFactory threads = b.threadFactory != null ? b.threadFactory : HttpPollLoop.daemonThreads("epp-metrics-poll");
      for (int i = 0; i < loops.length; i++) {
        loops[i] = new HttpPollLoop(threads, b.interval, b.timeout, b.maxBodyBytes);
      }
      return;
    }
    this.loops = new HttpPollLoop[0];
    this.executor = new ScheduledThreadPoolExecutor(b.threads,
        b.threadFactory != null ? b.threadFactory : HttpPollLoop.daemonThreads("epp-metrics-scraper"));
    executor.setRemoveOnCancelPolicy(true);
    executor.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
    HttpClient.Builder http = HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(timeout)
        .followRedirects(HttpClient.Redirect.NEVER)
        .executor(executor);
    if (b.insecureSkipVerify) {
      http.sslContext(InsecureTls.context());
    }
    this.client = http.build();
  }

  /** A builder scraping the endpoints of {@code store}. */
  public static Builder builder(EndpointStore store) {
    return new Builder(store);
  }

  /**
   * Starts polling every endpoint now in the store and every endpoint added later; stops polling endpoints when they
   * are removed.
   *
   * @throws IllegalStateException if already started or closed
   */
  public void start() {
    if (closed || !started.compareAndSet(false, true)) {
      throw new IllegalStateException("scraper already started or closed");
    }
    if (scheme.equals("https") && ForkJoinPool.getCommonPoolParallelism() < 2
        && WARNED_COMMON_POOL.compareAndSet(false, true)) {
      log.warn("The common fork-join pool has parallelism {}, so the JDK HTTP client starts a thread for every "
          + "scrape; start the JVM with -Djava.util.concurrent.ForkJoinPool.common.parallelism=2 to avoid it",
          ForkJoinPool.getCommonPoolParallelism());
    }
    store.addListener(listener);
    Candidates snapshot = store.snapshot();
    for (int i = 0; i < snapshot.size(); i++) {
      track(snapshot.endpoint(i));
    }
  }

  /** Stops all polling and abandons requests in flight. Idempotent. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    store.removeListener(listener);
    targets.values().forEach(Target::stop);
    targets.clear();
    if (executor != null) {
      executor.shutdownNow();
    }
    for (HttpPollLoop loop : loops) {
      loop.close();
    }
  }

  /** How many endpoints are being polled. */
  public int endpointCount() {
    return targets.size();
  }

  private void track(Endpoint endpoint) {
    if (closed) {
      return;
    }
    try {
      schedule(endpoint);
    } catch (RuntimeException e) { // e.g. an address no URI can hold: that endpoint is not scraped
      log.error("Cannot scrape metrics of endpoint {} at {}", endpoint.name(), endpoint.hostPort(), e);
    }
  }

  private void schedule(Endpoint endpoint) {
    targets.compute(endpoint.name(), (name, old) -> {
      if (old != null && old.endpoint.equals(endpoint)) {
        return old;
      }
      EndpointMetrics last = EndpointMetrics.none();
      if (old != null) {
        old.stop();
        if (old.endpoint.address().equals(endpoint.address()) && old.endpoint.port() == endpoint.port()) {
          last = old.last; // the store keeps metrics of an endpoint whose address is unchanged
        }
      }
      Target target = new Target(endpoint, last);
      target.schedule();
      return target;
    });
  }

  private void untrack(Endpoint endpoint) {
    targets.computeIfPresent(endpoint.name(), (name, target) -> {
      target.stop();
      return null;
    });
  }

  private URI uri(Endpoint endpoint) {
    int port = metricsPort > 0 ? metricsPort : endpoint.port();
    String host = endpoint.address().indexOf(':') >= 0 ? "[" + endpoint.address() + "]" : endpoint.address();
    return URI.create(scheme + "://" + host + ":" + port + path);
  }

  /** The polling state of one endpoint. */
  private final class Target implements Runnable, HttpPollLoop.Listener {
    final Endpoint endpoint;
    final EngineMapping mapping;
    final HttpRequest request; // https
    final AtomicBoolean inFlight = new AtomicBoolean();
    volatile ScheduledFuture<?> task; // https
    volatile HttpPollLoop.Poll poll; // http
    volatile boolean stopped;
    volatile CompletableFuture<?> exchange;
    // Touched only by the thread completing a poll; polls of one target never overlap.
    volatile EndpointMetrics last;
    String failure;

    Target(Endpoint endpoint, EndpointMetrics last) {
      this.endpoint = endpoint;
      this.mapping = mappings.forEndpoint(endpoint);
      this.request = executor == null ? null : HttpRequest.newBuilder(uri(endpoint))
          .timeout(timeout)
          .header("Accept", ACCEPT)
          .header("Accept-Encoding", "identity")
          .GET()
          .build();
      this.last = last;
    }

    void schedule() {
      long initialDelay = ThreadLocalRandom.current().nextLong(intervalNanos);
      if (executor != null) {
        task = executor.scheduleAtFixedRate(this, initialDelay, intervalNanos, TimeUnit.NANOSECONDS);
        return;
      }
      HttpPollLoop loop = loops[0];
      for (HttpPollLoop l : loops) {
        if (l.size() < loop.size()) {
          loop = l;
        }
      }
      int port = metricsPort > 0 ? metricsPort : endpoint.port();
      poll = loop.add(endpoint.address(), port, path, ACCEPT, initialDelay, this);
    }

    /** Stops polling; once this returns, no failure or recovery of this target is logged. */
    void stop() {
      synchronized (this) {
        stopped = true;
      }
      ScheduledFuture<?> t = task;
      if (t != null) {
        t.cancel(false);
      }
      HttpPollLoop.Poll p = poll;
      if (p != null) {
        p.cancel();
      }
      CompletableFuture<?> e = exchange;
      if (e != null) {
        e.cancel(true);
      }
    }

    @Override
    public void run() {
      if (stopped || !inFlight.compareAndSet(false, true)) {
        return;
      }
      try {
        CappedBody body = new CappedBody(maxBodyBytes, buffers.take());
        CompletableFuture<HttpResponse<CappedBody.Page>> response = client.sendAsync(request, info -> {
          body.checkDeclaredLength(info.headers().firstValueAsLong("content-length").orElse(-1));
          return body;
        });
        exchange = response;
        ScheduledFuture<?> deadline = executor.schedule(() -> {
          HttpTimeoutException e = new HttpTimeoutException("no complete response within " + timeout.toMillis() + " ms");
          body.abort(e);
          response.completeExceptionally(e);
        }, timeout.toNanos(), TimeUnit.NANOSECONDS);
        // Async on our pool: the JDK completes sendAsync futures on its default async pool, which on a machine
        // with two or fewer cores is a new thread per task; parsing must not run there.
        response.whenCompleteAsync((r, error) -> {
          deadline.cancel(false);
          try {
            completed(r, error);
          } finally {
            exchange = null;
            inFlight.set(false);
          }
        }, executor);
      } catch (RuntimeException e) { // e.g. rejected after close()
        inFlight.set(false);
        if (!stopped && !closed) {
          failed(e.toString());
        }
      }
    }

    @Override
    public void page(byte[] page, int length) {
      if (!stopped) {
        accept(page, length);
      }
    }

    @Override
    public void failed(IOException e) {
      if (!stopped) {
        failed(e.toString());
      }
    }

    private void completed(HttpResponse<CappedBody.Page> response, Throwable error) {
      if (stopped) {
        return;
      }
      if (error != null) {
        Throwable cause = error instanceof java.util.concurrent.CompletionException && error.getCause() != null
            ? error.getCause()
            : error;
        failed(cause.toString());
        return;
      }
      if (response.statusCode() != 200) {
        failed("HTTP status " + response.statusCode());
        return;
      }
      CappedBody.Page page = response.body();
      String encoding = response.headers().firstValue("content-encoding").orElse("identity").toLowerCase(Locale.ROOT);
      if (!encoding.isEmpty() && !encoding.equals("identity")) {
        failed(HttpResponseParser.encodedBody(encoding).getMessage());
      } else {
        accept(page.bytes(), page.length());
      }
      buffers.give(page.bytes());
    }

    /** Parses a page that came with status 200 and stores its metrics. */
    private void accept(byte[] bytes, int length) {
      EndpointMetrics previous = last;
      EndpointMetrics next = mapping.extract(bytes, length, previous, ticker.nanos());
      if (next == previous) {
        failed("the page has none of the metrics of " + mapping);
        return;
      }
      last = next;
      store.updateMetrics(endpoint.name(), next);
      if (failure != null) {
        synchronized (this) {
          if (!stopped) {
            log.info("Metrics of endpoint {} recovered after: {}", endpoint.name(), failure);
          }
        }
        failure = null;
      }
    }

    /**
     * Logs the first failure after a success as a warning, unless the endpoint has left the store (a removal in
     * progress, with this target not yet stopped), and later ones at debug level.
     */
    private void failed(String reason) {
      if (failure == null) {
        synchronized (this) { // not while stop() runs: no warning follows a removal
          if (!stopped && inStore()) {
            log.warn("Cannot scrape metrics of endpoint {} from {}: {}", endpoint.name(), uri(endpoint), reason);
          }
        }
      } else {
        log.debug("Scrape of endpoint {} failed again: {}", endpoint.name(), reason);
      }
      failure = reason;
    }

    /** Whether the store holds this endpoint (a scan: only for the rare first failure). */
    private boolean inStore() {
      Candidates candidates = store.snapshot();
      for (int i = 0; i < candidates.size(); i++) {
        if (candidates.endpoint(i).equals(endpoint)) {
          return true;
        }
      }
      return false;
    }
  }

  /** Builds a {@link MetricsScraper}. Not thread-safe. */
  public static final class Builder {
    private final EndpointStore store;
    private MetricMappings mappings = MetricMappings.defaults();
    private String scheme = "http";
    private String path = "/metrics";
    private boolean insecureSkipVerify = true;
    private int metricsPort;
    private Duration interval = Duration.ofMillis(50);
    private Duration timeout = Duration.ofSeconds(1);
    private int maxBodyBytes = 16 << 20;
    private Ticker ticker = Ticker.system();
    private int threads = 2;
    private ThreadFactory threadFactory;

    private Builder(EndpointStore store) {
      this.store = Objects.requireNonNull(store, "store");
    }

    /** The engine mappings; default {@link MetricMappings#defaults()}. */
    public Builder mappings(MetricMappings mappings) {
      this.mappings = Objects.requireNonNull(mappings, "mappings");
      return this;
    }

    /** {@code http} (default) or {@code https}. */
    public Builder scheme(String scheme) {
      if (!scheme.equals("http") && !scheme.equals("https")) {
        throw new IllegalArgumentException("scheme must be http or https: " + scheme);
      }
      this.scheme = scheme;
      return this;
    }

    /** The metrics path; default {@code /metrics}. */
    public Builder path(String path) {
      if (!path.startsWith("/")) {
        throw new IllegalArgumentException("path must start with '/': " + path);
      }
      this.path = path;
      return this;
    }

    /** Whether to accept any TLS certificate with {@code https}; default {@code true}, as the Go EPP. */
    public Builder insecureSkipVerify(boolean insecureSkipVerify) {
      this.insecureSkipVerify = insecureSkipVerify;
      return this;
    }

    /**
     * Applies a configuration's {@code dataLayer} plugins, as the Go EPP does: a {@link MetricsDataSource}'s scheme,
     * path and insecure-skip-verify replace what this builder has (its parameters take precedence over the deprecated
     * flags), a {@link CoreMetricsExtractor}'s mappings replace {@link #mappings}; other plugins are ignored.
     *
     * @throws IllegalArgumentException if {@code plugins} hold more than one of either: a pool has one metrics source
     */
    public Builder dataLayer(List<? extends Plugin> plugins) {
      List<MetricsDataSource> sources = instances(plugins, MetricsDataSource.class);
      List<CoreMetricsExtractor> extractors = instances(plugins, CoreMetricsExtractor.class);
      if (sources.size() > 1 || extractors.size() > 1) {
        throw new IllegalArgumentException("the configuration has more than one " + (sources.size() > 1
            ? MetricsDataSource.TYPE : CoreMetricsExtractor.TYPE) + " plugin; a pool has one metrics source");
      }
      if (!sources.isEmpty()) {
        MetricsDataSource source = sources.get(0);
        scheme(source.scheme()).path(source.path()).insecureSkipVerify(source.insecureSkipVerify());
      }
      if (!extractors.isEmpty()) {
        mappings(extractors.get(0).mappings());
      }
      return this;
    }

    private static <T> List<T> instances(List<? extends Plugin> plugins, Class<T> type) {
      return plugins.stream().filter(type::isInstance).map(type::cast).toList();
    }

    /** A port to scrape on every endpoint instead of its own port; 0 (default) = the endpoint's port. */
    public Builder metricsPort(int port) {
      if (port < 0 || port > 65535) {
        throw new IllegalArgumentException("port " + port + " is not in 0..65535");
      }
      this.metricsPort = port;
      return this;
    }

    /** Time between polls of one endpoint; default 50 ms. */
    public Builder interval(Duration interval) {
      this.interval = positive(interval, "interval");
      return this;
    }

    /** Deadline of one poll, connection to last body byte; default 1 s. */
    public Builder timeout(Duration timeout) {
      this.timeout = positive(timeout, "timeout");
      return this;
    }

    /** The largest body accepted; default 16 MiB. */
    public Builder maxBodyBytes(int maxBodyBytes) {
      if (maxBodyBytes < 1) {
        throw new IllegalArgumentException("maxBodyBytes must be positive: " + maxBodyBytes);
      }
      this.maxBodyBytes = maxBodyBytes;
      return this;
    }

    /** The time source stamping {@link EndpointMetrics#updatedNanos()}; default {@link Ticker#system()}. */
    public Builder ticker(Ticker ticker) {
      this.ticker = Objects.requireNonNull(ticker, "ticker");
      return this;
    }

    /**
     * The scraper's threads; default 2. With {@code http}, poll loops, each serving a share of the endpoints (a loop
     * spends about 90 µs of CPU on a 51 KB vLLM page, so it keeps up with roughly 10,000 pages per second). With
     * {@code https}, the shared pool that starts and completes the JDK client's requests.
     */
    public Builder threads(int threads) {
      if (threads < 1) {
        throw new IllegalArgumentException("threads must be positive: " + threads);
      }
      this.threads = threads;
      return this;
    }

    /**
     * Makes the scraper's {@link #threads threads}; default daemon threads named {@code epp-metrics-poll-N} (http) or
     * {@code epp-metrics-scraper-N} (https). The scraper starts them and ends them on {@link MetricsScraper#close()}.
     */
    public Builder threadFactory(ThreadFactory value) {
      this.threadFactory = Objects.requireNonNull(value, "threadFactory");
      return this;
    }

    /** The scraper, not yet started; with {@code http} its poll threads start here and stay idle until then. */
    public MetricsScraper build() {
      return new MetricsScraper(this);
    }

    private static Duration positive(Duration d, String what) {
      if (d.isNegative() || d.isZero()) {
        throw new IllegalArgumentException(what + " must be positive: " + d);
      }
      return d;
    }
  }
}
