package dev.epp.server;

import dev.epp.api.EndpointDiscovery;
import dev.epp.api.Ticker;
import dev.epp.api.requestcontrol.ModelRewrites;
import dev.epp.api.requestcontrol.Objectives;
import dev.epp.extproc.ExtProcService;
import dev.epp.extproc.MalformedInput;
import dev.epp.metrics.export.EppMetrics;
import dev.epp.metrics.export.MetricsExporter;
import dev.epp.metrics.scrape.MetricsScraper;
import dev.epp.scheduler.ConfigException;
import dev.epp.scheduler.DecisionLog;
import dev.epp.scheduler.Director;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.scheduler.EndpointPool;
import io.envoyproxy.envoy.service.ext_proc.v3.ExternalProcessorGrpc;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.ServerCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A complete Endpoint Picker process, as the Go EPP runs it: the endpoint pool fed by an {@link EndpointDiscovery},
 * the model-server {@link MetricsScraper}, the request {@link Director}, Envoy's ext_proc service on a gRPC port
 * (TLS by default), the gRPC health service on a second port, and the EPP's Prometheus metrics on a third.
 *
 * <p>{@link #start()} returns once every port is bound; with port 0 the bound ports are {@link #grpcPort()},
 * {@link #healthPort()} and {@link #metricsPort()}. Anything that prevents starting (a port in use, an unreadable
 * certificate, discovery that cannot read its source, an ambiguous data-layer configuration) is a
 * {@link StartException} with a one-line message; everything already started is then stopped again.
 *
 * <p><b>Health.</b> The health port answers {@code grpc.health.v1.Health} for the service names in
 * {@link #HEALTH_SERVICES}. {@code liveness} is always {@code SERVING} while the server runs, draining included. The
 * others ({@code ""}, {@code readiness}, {@code inference-extension} and
 * {@code envoy.service.ext_proc.v3.ExternalProcessor}) are {@code SERVING} while the server is ready, which by default
 * ({@link Readiness#FRESH_METRICS}) means at least one endpoint's metrics are fresher than the staleness threshold: an
 * EPP that knows no live model server reports not ready. {@link Readiness#DISCOVERY_SYNCED} reports ready as soon as
 * discovery has loaded its source, as the Go EPP without leader election does. With a {@link LeaderElection}, only the
 * leader is ready. Readiness is re-evaluated every second.
 * Other service names are {@code NOT_FOUND}. With {@link Builder#healthChecking(boolean) healthChecking}, the same
 * health service is also served on the ext_proc port. {@link #close()} turns every name but {@code liveness}
 * {@code NOT_SERVING} first.
 *
 * <p><b>Live page.</b> The metrics port also serves, under the same bearer token, a live page of the pool, the
 * configuration and the last scheduling decisions at {@code /} (and {@code /ui}), and its data as JSON at
 * {@code /debug/pool}, {@code /debug/config} and {@code /debug/decisions} (see {@link DecisionLog} for which requests
 * are recorded).
 *
 * <p><b>Configuration reload.</b> With {@link Builder#watchConfigFile}, a changed configuration file is applied
 * without a restart: ext_proc streams that open afterwards route with it, those in flight finish with the
 * configuration they started with.
 *
 * <p><b>Connections.</b> The ext_proc port closes a connection that has had no stream for
 * {@link Builder#maxConnectionIdle} (GOAWAY, so a gateway reconnects when it needs to), pings a connection that has
 * been silent for {@link Builder#keepAliveTime} and closes it if the ping is not answered within
 * {@link Builder#keepAliveTimeout}. A connection with a stream in flight is never closed for idleness. A client may
 * ping at most every 5 minutes, and only while it has streams open (gRPC's default policy; more often is answered
 * with GOAWAY). Protocol violations are counted and logged in one line by {@link MalformedInput}.
 *
 * <p><b>Threading:</b> thread-safe. {@link #start()} at most once; {@link #close()} any number of times. ext_proc
 * messages are handled on the gRPC transport's event-loop threads, without a hand-off to another executor: the request
 * path never blocks (plugins must not block either, as {@link dev.epp.api.Plugin} requires), and each hand-off would
 * cost a thread wake-up per message.
 */
public final class EppServer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(EppServer.class);

  /** The Go EPP's ext_proc port. */
  public static final int DEFAULT_GRPC_PORT = 9002;
  /** The Go EPP's health port. */
  public static final int DEFAULT_HEALTH_PORT = 9003;
  /** The {@code name} label of the pool metrics when no pool name is given. */
  public static final String DEFAULT_POOL_NAME = "default-pool";
  /** How long {@link #close()} waits for ext_proc streams in flight by default. */
  public static final Duration DEFAULT_DRAIN_TIMEOUT = Duration.ofSeconds(30);
  /** How long an ext_proc connection may have no stream before it is closed, by default. */
  public static final Duration DEFAULT_MAX_CONNECTION_IDLE = Duration.ofMinutes(5);
  /** How long an ext_proc connection may be silent before it is pinged, by default. */
  public static final Duration DEFAULT_KEEPALIVE_TIME = Duration.ofMinutes(1);
  /** How long a ping may go unanswered before the connection is closed, by default (gRPC's default). */
  public static final Duration DEFAULT_KEEPALIVE_TIMEOUT = Duration.ofSeconds(20);
  /** The health service name that is {@code SERVING} whenever the server runs. */
  public static final String LIVENESS = "liveness";
  /** Every health service name answered: {@link #LIVENESS} and the names that follow readiness. */
  public static final List<String> HEALTH_SERVICES =
      List.of(LIVENESS, "", "readiness", "inference-extension", ExternalProcessorGrpc.SERVICE_NAME);

  private static final long READINESS_TICK_MILLIS = 1000;
  /** Room for the headers and framing of a message that carries a body of the maximum size in one chunk. */
  private static final int MESSAGE_OVERHEAD_BYTES = 1 << 20;

  /** What makes the server ready. */
  public enum Readiness {
    /** At least one endpoint has metrics fresher than the staleness threshold (default). */
    FRESH_METRICS,
    /** Discovery has loaded its source, even if it lists no endpoint (the Go EPP's readiness). */
    DISCOVERY_SYNCED
  }

  /** The server could not start; the message is one line fit for an operator and names the cause. */
  public static final class StartException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** An exception with {@code message}. */
    public StartException(String message) {
      super(message);
    }

    /** An exception with {@code message}, caused by {@code cause}. */
    public StartException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  private enum State { NEW, STARTED, CLOSED }

  private volatile EndpointPickerConfig config;
  private final EndpointDiscovery discovery;
  private final EppServerOptions options;

  private final EndpointPool pool = new EndpointPool();
  private final DecisionLog decisions = DecisionLog.create();
  private final EppMetrics metrics;
  private final HealthReporter health;
  private State state = State.NEW;
  private boolean discoveryStarted;
  private MetricsScraper scraper;
  private volatile Director director; // read once per ext_proc stream
  private final ConfigSource watched; // null: the configuration is not reloaded
  private final Object reloadLock = new Object(); // guards config, director, retiring and stopped against a reload
  private final Deque<Retiring> retiring = new ArrayDeque<>();
  private boolean stopped;
  private Server grpcServer;
  private ExtProcService extProc;
  private Server healthServer;
  private MetricsExporter exporter;
  private final ScheduledExecutorService scheduler; // supplied, or null for threads of the server's own
  private final LeaderElection leaderElection; // null without an election
  private final List<ScheduledFuture<?>> ticks = new ArrayList<>();
  private ScheduledExecutorService readinessTicker; // owned
  private final OpenTelemetrySdk openTelemetry; // owned; null: tracing off

  /** The file the configuration is reloaded from, and the loader it is loaded with. */
  private record ConfigSource(Path file, EndpointPickerConfig.Loader loader) {}

  /** A director and configuration replaced by a reload, closed once no stream uses the director. */
  private record Retiring(Director director, EndpointPickerConfig config, EndpointPickerConfig successor,
      long deadlineNanos) {}

  private EppServer(EndpointPickerConfig config, EndpointDiscovery discovery, EppServerOptions options,
      ScheduledExecutorService scheduler, LeaderElection leaderElection, OpenTelemetrySdk openTelemetry,
      ConfigSource watched) {
    this.config = config;
    this.watched = watched;
    this.leaderElection = leaderElection;
    this.openTelemetry = openTelemetry;
    this.metrics = (EppMetrics) config.metrics();
    this.discovery = discovery;
    this.scheduler = scheduler;
    this.options = options;
    // Pool gauges are refreshed between two periodic refreshes when the first endpoint turns fresh or the last one
    // stale, so that inference_pool_ready_pods agrees with readiness from the first scrapes on.
    this.health = new HealthReporter(pool, options.readiness(), options.metricsStalenessThreshold(),
        leaderElection != null, metrics::refreshPoolGauges);
  }

  /**
   * A builder of a server routing with {@code config} over the endpoints that {@code discovery} finds. The
   * configuration must have been loaded with the {@link EppMetrics} the server serves
   * ({@code EndpointPickerConfig.loader().metrics(EppMetrics.create())}), so that its plugins' and the request
   * metrics reach {@code /metrics}; it serves one server.
   *
   * @throws IllegalArgumentException if the configuration records to something other than an {@link EppMetrics}
   */
  public static Builder builder(EndpointPickerConfig config, EndpointDiscovery discovery) {
    return new Builder(config, discovery);
  }

  /**
   * Starts discovery and scraping, then binds the ext_proc, health and metrics ports.
   *
   * @return this server
   * @throws StartException if the server cannot start; nothing is left running
   * @throws IllegalStateException if already started or closed
   */
  public synchronized EppServer start() {
    if (state != State.NEW) {
      throw new IllegalStateException("server already " + state.name().toLowerCase(Locale.ROOT));
    }
    state = State.STARTED;
    try {
      EppServerOptions o = options;
      ReloadingKeyManager keyManager = o.secureServing() && o.certPath() != null
          ? ServerTls.keyManager(o.certPath()) : null;
      ServerCredentials credentials = !o.secureServing() ? InsecureServerCredentials.create()
          : keyManager != null ? ServerTls.credentials(keyManager) : ServerTls.selfSigned();
      ConfigFileWatcher watcher = watched == null ? null : watcher();
      director = director(config);
      scraper = scraper();
      try {
        discovery.start(pool);
      } catch (RuntimeException e) {
        throw new StartException("endpoint discovery failed: " + e.getMessage(), e);
      }
      discoveryStarted = true;
      scraper.start();
      if (scheduler != null) {
        metrics.monitorPool(o.poolName(), pool, Ticker.system(), o.metricsStalenessThreshold(),
            o.refreshPrometheusMetricsInterval(), scheduler);
      } else {
        metrics.monitorPool(o.poolName(), pool, Ticker.system(), o.metricsStalenessThreshold(),
            o.refreshPrometheusMetricsInterval());
      }
      MalformedInput.install();
      metrics.malformedGrpcInput(MalformedInput::total);

      if (o.grpcStreamMetrics()) {
        metrics.enableGrpcStreamMetrics();
      }
      ExtProcService.Builder extProcBuilder = ExtProcService.builder(() -> director)
          .metrics(metrics)
          .maxRequestBodyBytes(o.maxRequestBodyBytes())
          .maxBufferedBodyBytes(o.maxBufferedBodyBytes())
          .streamIdleTimeout(o.streamIdleTimeout())
          .emitEndpointScores(o.emitEndpointScores());
      if (scheduler != null) {
        extProcBuilder.scheduler(scheduler);
      }
      if (openTelemetry != null) {
        extProcBuilder.openTelemetry(openTelemetry);
      }
      extProc = extProcBuilder.build();
      NettyServerBuilder grpc = NettyServerBuilder.forPort(o.grpcPort(), credentials)
          .directExecutor()
          .addService(extProc)
          .maxInboundMessageSize(
              (int) Math.min(Integer.MAX_VALUE, (long) o.maxRequestBodyBytes() + MESSAGE_OVERHEAD_BYTES))
          .maxConcurrentCallsPerConnection(o.maxConcurrentStreamsPerConnection())
          .maxConnectionIdle(o.maxConnectionIdle().toNanos(), TimeUnit.NANOSECONDS)
          .keepAliveTime(o.keepAliveTime().toNanos(), TimeUnit.NANOSECONDS)
          .keepAliveTimeout(o.keepAliveTimeout().toNanos(), TimeUnit.NANOSECONDS);
      if (o.healthChecking()) {
        grpc.addService(health.service());
      }
      grpcServer = bind(grpc, "ext_proc gRPC", o.grpcPort());
      healthServer = bind(NettyServerBuilder.forPort(o.healthPort(), InsecureServerCredentials.create())
          .directExecutor()
          .addService(health.service()), "gRPC health", o.healthPort());
      try {
        DebugPages pages = new DebugPages(pool, () -> config, decisions, o);
        exporter = MetricsExporter.start(new InetSocketAddress(o.metricsPort()), metrics.registry(),
            o.metricsBearerToken(), pages.routes(), DebugPages.WITHOUT_TOKEN);
      } catch (UncheckedIOException e) {
        throw new StartException("cannot listen for metrics on port " + o.metricsPort() + ": " + rootMessage(e), e);
      }

      log.info("EPP started: pool {} with {} endpoint(s); ext_proc on port {} ({}{}), health on port {}, "
              + "metrics on port {}{}", o.poolName(), pool.snapshot().size(), grpcPort(),
          !o.secureServing() ? "plaintext" : o.certPath() != null ? "TLS from " + o.certPath() : "TLS, self-signed",
          o.healthChecking() ? ", with health" : "", healthPort(), metricsPort(),
          o.metricsBearerToken() != null ? " (bearer token required)" : "");
      ScheduledExecutorService ticker = scheduler;
      if (ticker == null) {
        ticker = readinessTicker = Executors.newSingleThreadScheduledExecutor(r -> {
          Thread t = new Thread(r, "epp-readiness");
          t.setDaemon(true);
          return t;
        });
      }
      ticks.add(ticker.scheduleWithFixedDelay(health::update, 0, READINESS_TICK_MILLIS, TimeUnit.MILLISECONDS));
      if (leaderElection != null) {
        leaderElection.start(() -> health.leader(true), () -> health.leader(false));
      }
      if (keyManager != null && o.certReload()) {
        ticks.add(ticker.scheduleWithFixedDelay(keyManager::reloadIfChanged, READINESS_TICK_MILLIS,
            READINESS_TICK_MILLIS, TimeUnit.MILLISECONDS));
      }
      if (watcher != null) {
        ticks.add(ticker.scheduleWithFixedDelay(() -> {
          try {
            watcher.poll();
            retireDrained();
          } catch (RuntimeException e) { // a bug: keep watching
            log.error("Reloading the configuration file {} failed", watched.file(), e);
          }
        }, READINESS_TICK_MILLIS, READINESS_TICK_MILLIS, TimeUnit.MILLISECONDS));
      }
      return this;
    } catch (RuntimeException e) {
      stop(Duration.ZERO);
      state = State.CLOSED;
      throw e;
    }
  }

  /** The configuration new ext_proc streams route with: the one given, or the last one reloaded. */
  public EndpointPickerConfig config() {
    return config;
  }

  /** The server's settings. */
  public EppServerOptions options() {
    return options;
  }

  /**
   * The port ext_proc is served on.
   *
   * @throws IllegalStateException if not running
   */
  public synchronized int grpcPort() {
    return running(grpcServer).getPort();
  }

  /**
   * The port the gRPC health service is served on.
   *
   * @throws IllegalStateException if not running
   */
  public synchronized int healthPort() {
    return running(healthServer).getPort();
  }

  /**
   * The port {@code /metrics} is served on.
   *
   * @throws IllegalStateException if not running
   */
  public synchronized int metricsPort() {
    if (state != State.STARTED || exporter == null) {
      throw new IllegalStateException("server not running");
    }
    return exporter.port();
  }

  /**
   * Stops gracefully: every health name but {@code liveness} turns {@code NOT_SERVING} (a draining EPP is alive, and
   * Kubernetes must not restart it), requests waiting in flow control are answered 503 with
   * {@code x-llm-d-request-dropped-reason: rejected-shutting-down}, the ext_proc port stops accepting streams and those
   * in flight get up to the drain timeout to finish (then they are cancelled), then the health and metrics ports
   * close and scraping and discovery stop. Returns when every port is released. Idempotent.
   */
  @Override
  public synchronized void close() {
    if (state == State.CLOSED) {
      return;
    }
    boolean wasStarted = state == State.STARTED;
    state = State.CLOSED;
    stop(options.drainTimeout());
    if (wasStarted) {
      log.info("EPP stopped");
    }
  }

  private void stop(Duration drain) {
    if (leaderElection != null) {
      leaderElection.close(); // another replica takes over while this one drains
    }
    for (ScheduledFuture<?> tick : ticks) {
      tick.cancel(false);
    }
    if (readinessTicker != null) {
      readinessTicker.shutdownNow();
      try {
        readinessTicker.awaitTermination(5, TimeUnit.SECONDS); // a tick in progress must not turn readiness back on
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    health.drain();
    synchronized (reloadLock) {
      stopped = true;
      if (director != null) {
        director.close(); // requests waiting in flow control get rejected-shutting-down; routed ones drain
      }
      for (Retiring old : retiring) {
        old.director().close();
      }
    }
    if (grpcServer != null) {
      grpcServer.shutdown();
      if (!await(grpcServer, drain)) {
        if (!drain.isZero()) {
          log.warn("Cancelling ext_proc streams still open after the drain timeout of {} ms", drain.toMillis());
        }
        grpcServer.shutdownNow();
        await(grpcServer, Duration.ofSeconds(5));
      }
    }
    if (extProc != null) {
      extProc.close();
    }
    if (healthServer != null) {
      healthServer.shutdownNow();
      await(healthServer, Duration.ofSeconds(5));
    }
    if (exporter != null) {
      exporter.close();
    }
    if (scraper != null) {
      scraper.close();
    }
    if (discoveryStarted) {
      discovery.close();
    }
    synchronized (reloadLock) {
      for (Retiring old : retiring) {
        old.config().retire(old.successor(), pool);
      }
      retiring.clear();
      config.close();
    }
    metrics.close();
    if (openTelemetry != null) {
      openTelemetry.close(); // exports the spans still batched
    }
  }

  /** A director over the pool with {@code routing}'s plugins and the server's settings. */
  private Director director(EndpointPickerConfig routing) {
    Director.Builder builder = Director.builder(routing, pool)
        .objectives(options.objectives())
        .modelRewrites(options.modelRewrites())
        .stalenessThreshold(options.metricsStalenessThreshold())
        .explainEveryRequest(options.emitEndpointScores())
        .decisionLog(decisions);
    if (openTelemetry != null) {
      builder.openTelemetry(openTelemetry);
    }
    return builder.build();
  }

  /** A watcher of the configuration file, from its content now. */
  private ConfigFileWatcher watcher() {
    try {
      return new ConfigFileWatcher(watched.file(), ConfigFileWatcher.read(watched.file()), this::reload);
    } catch (IOException e) {
      throw new StartException("cannot read the configuration file " + watched.file() + " to watch it: "
          + rootMessage(e), e);
    }
  }

  /**
   * Applies the configuration file's new content {@code bytes}: loads it reusing the running configuration's
   * unchanged plugins, builds a director over the same pool and makes it the one new streams use; the replaced
   * director and configuration retire when their streams have ended ({@link #retireDrained}). A file that does not
   * load, or that changes what cannot change live, changes nothing.
   */
  private void reload(byte[] bytes) {
    String source = watched.file().toString();
    synchronized (reloadLock) {
      if (stopped) {
        return;
      }
      EndpointPickerConfig running = config;
      EndpointPickerConfig next;
      try {
        next = watched.loader().reusing(running).parse(bytes, source);
      } catch (ConfigException e) {
        refuse(e.getMessage());
        return;
      }
      String fixed = ConfigReload.unchangeable(running, next);
      if (fixed != null) {
        next.retire(running, pool);
        refuse(source + ": " + fixed + " cannot change while the EPP runs; restart it to apply the file");
        return;
      }
      Director replacement;
      try {
        replacement = director(next);
      } catch (RuntimeException e) {
        next.retire(running, pool);
        refuse(source + ": " + e.getMessage());
        return;
      }
      Director old = director;
      director = replacement;
      config = next;
      retiring.add(new Retiring(old, running, next, System.nanoTime() + options.drainTimeout().toNanos()));
      metrics.recordConfigReload(true);
      log.info("Configuration reloaded from {}: {}", source, ConfigReload.changes(running, next));
    }
    retireDrained();
  }

  private void refuse(String message) {
    metrics.recordConfigReload(false);
    log.warn("Configuration reload refused, keeping the running configuration: {}", message);
  }

  /**
   * Closes the replaced directors and retires their configurations, oldest first, once no ext_proc stream uses them
   * (or the drain timeout has passed).
   */
  private void retireDrained() {
    synchronized (reloadLock) {
      while (!retiring.isEmpty() && !stopped) {
        Retiring old = retiring.peekFirst();
        if (extProc.streamsOn(old.director()) > 0 && System.nanoTime() - old.deadlineNanos() < 0) {
          return;
        }
        retiring.removeFirst();
        old.director().close();
        old.config().retire(old.successor(), pool);
      }
    }
  }

  /** The scraper, with the configuration's data-layer plugins taking precedence over the scraping settings. */
  private MetricsScraper scraper() {
    try {
      return MetricsScraper.builder(pool)
          .interval(options.refreshMetricsInterval())
          .metricsPort(options.modelServerMetricsPort())
          .scheme(options.modelServerMetricsScheme())
          .path(options.modelServerMetricsPath())
          .insecureSkipVerify(options.modelServerMetricsInsecureSkipVerify())
          .dataLayer(config.plugins())
          .build();
    } catch (IllegalArgumentException e) {
      throw new StartException(e.getMessage(), e);
    }
  }

  private static Server bind(NettyServerBuilder builder, String what, int port) {
    try {
      return builder.build().start();
    } catch (IOException e) {
      throw new StartException("cannot listen for " + what + " on port " + port + ": " + rootMessage(e), e);
    }
  }

  private static String rootMessage(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    return root.getMessage() != null ? root.getMessage() : root.toString();
  }

  private Server running(Server server) {
    if (state != State.STARTED || server == null) {
      throw new IllegalStateException("server not running");
    }
    return server;
  }

  private static boolean await(Server server, Duration timeout) {
    try {
      return server.awaitTermination(timeout.toNanos(), TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /**
   * Builds an {@link EppServer}; defaults are the Go EPP's unless a setter says otherwise. Not thread-safe. Setters
   * validate their argument and throw {@link IllegalArgumentException} for a bad one.
   */
  public static final class Builder {
    private final EndpointPickerConfig config;
    private final EndpointDiscovery discovery;
    private static final EppServerOptions DEFAULTS = EppServerOptions.defaults();
    private String poolName = DEFAULTS.poolName();
    private Objectives objectives = DEFAULTS.objectives();
    private ModelRewrites modelRewrites = DEFAULTS.modelRewrites();
    private int grpcPort = DEFAULTS.grpcPort();
    private int healthPort = DEFAULTS.healthPort();
    private int metricsPort = DEFAULTS.metricsPort();
    private String metricsToken = DEFAULTS.metricsBearerToken();
    private boolean secureServing = DEFAULTS.secureServing();
    private Path certPath = DEFAULTS.certPath();
    private boolean certReload = DEFAULTS.certReload();
    private boolean healthChecking = DEFAULTS.healthChecking();
    private Readiness readiness = DEFAULTS.readiness();
    private Duration refreshMetricsInterval = DEFAULTS.refreshMetricsInterval();
    private Duration poolMetricsInterval = DEFAULTS.refreshPrometheusMetricsInterval();
    private Duration stalenessThreshold = DEFAULTS.metricsStalenessThreshold();
    private String modelServerMetricsScheme = DEFAULTS.modelServerMetricsScheme();
    private String modelServerMetricsPath = DEFAULTS.modelServerMetricsPath();
    private int modelServerMetricsPort = DEFAULTS.modelServerMetricsPort();
    private boolean modelServerMetricsInsecureSkipVerify = DEFAULTS.modelServerMetricsInsecureSkipVerify();
    private int maxRequestBodyBytes = DEFAULTS.maxRequestBodyBytes();
    private long maxBufferedBodyBytes = DEFAULTS.maxBufferedBodyBytes();
    private Duration streamIdleTimeout = DEFAULTS.streamIdleTimeout();
    private int maxConcurrentStreams = DEFAULTS.maxConcurrentStreamsPerConnection();
    private Duration maxConnectionIdle = DEFAULTS.maxConnectionIdle();
    private Duration keepAliveTime = DEFAULTS.keepAliveTime();
    private Duration keepAliveTimeout = DEFAULTS.keepAliveTimeout();
    private Duration drainTimeout = DEFAULTS.drainTimeout();
    private ConfigSource watched;
    private boolean grpcStreamMetrics = DEFAULTS.grpcStreamMetrics();
    private ScheduledExecutorService scheduler;
    private LeaderElection leaderElection;
    private OpenTelemetrySdk openTelemetry;
    private boolean emitEndpointScores = DEFAULTS.emitEndpointScores();

    private Builder(EndpointPickerConfig config, EndpointDiscovery discovery) {
      if (!(config.metrics() instanceof EppMetrics)) {
        throw new IllegalArgumentException("load the configuration with the metrics the server serves: "
            + "EndpointPickerConfig.loader().metrics(EppMetrics.create())");
      }
      this.config = config;
      this.discovery = Objects.requireNonNull(discovery, "discovery");
    }

    /** The pool's name, the {@code name} label of the pool metrics; default {@value #DEFAULT_POOL_NAME}. */
    public Builder poolName(String value) {
      this.poolName = EppServerOptions.poolName(value);
      return this;
    }

    /** Model rewrite rules; default {@link ModelRewrites#none()}. */
    public Builder modelRewrites(ModelRewrites value) {
      this.modelRewrites = Objects.requireNonNull(value, "modelRewrites");
      return this;
    }

    /** The priorities of inference objectives; default {@link Objectives#none()}. */
    public Builder objectives(Objectives value) {
      this.objectives = Objects.requireNonNull(value, "objectives");
      return this;
    }

    /** The ext_proc port; default {@value #DEFAULT_GRPC_PORT}; 0 picks a free port. */
    public Builder grpcPort(int value) {
      this.grpcPort = EppServerOptions.port(value);
      return this;
    }

    /** The gRPC health port; default {@value #DEFAULT_HEALTH_PORT}; 0 picks a free port. */
    public Builder healthPort(int value) {
      this.healthPort = EppServerOptions.port(value);
      return this;
    }

    /** The {@code /metrics} port; default {@value MetricsExporter#DEFAULT_PORT}; 0 picks a free port. */
    public Builder metricsPort(int value) {
      this.metricsPort = EppServerOptions.port(value);
      return this;
    }

    /**
     * The bearer token {@code /metrics} requires, or {@code null} (default) for none; see {@link MetricsExporter}.
     */
    public Builder metricsBearerToken(String value) {
      this.metricsToken = EppServerOptions.bearerToken(value);
      return this;
    }

    /** Whether ext_proc is served with TLS; default {@code true}. */
    public Builder secureServing(boolean value) {
      this.secureServing = value;
      return this;
    }

    /**
     * Whether to reload {@code tls.crt} and {@code tls.key} from the {@link #certPath} directory when they change
     * (checked every second); default false, as the Go EPP's {@code --enable-cert-reload}.
     */
    public Builder certReload(boolean value) {
      this.certReload = value;
      return this;
    }

    /**
     * A directory holding {@code tls.crt} (PEM chain) and {@code tls.key} (PEM key: PKCS#8, PKCS#1 RSA or SEC1 EC),
     * as mounted from a Kubernetes TLS secret, or {@code null} (default) for a self-signed certificate generated at
     * start. Used with {@link #secureServing(boolean) secureServing}; read once at start (no reload).
     */
    public Builder certPath(Path value) {
      this.certPath = value;
      return this;
    }

    /** Whether the health service is also served on the ext_proc port; default {@code false}. */
    public Builder healthChecking(boolean value) {
      this.healthChecking = value;
      return this;
    }

    /** What makes the server ready; default {@link Readiness#FRESH_METRICS} (the Go EPP's rule is the other). */
    public Builder readiness(Readiness value) {
      this.readiness = Objects.requireNonNull(value, "readiness");
      return this;
    }

    /** Time between metric polls of one model server; default 50 ms. */
    public Builder refreshMetricsInterval(Duration value) {
      this.refreshMetricsInterval = EppServerOptions.positive(value, "refresh metrics interval");
      return this;
    }

    /**
     * Time between refreshes of the {@code inference_pool_*} gauges; default 5 s. They are also refreshed within a
     * second of the first endpoint's metrics turning fresh and of the last one's going stale, as readiness is.
     */
    public Builder refreshPrometheusMetricsInterval(Duration value) {
      this.poolMetricsInterval = EppServerOptions.positive(value, "refresh prometheus metrics interval");
      return this;
    }

    /** How old an endpoint's metrics may be for it to count as ready; default 2 s. */
    public Builder metricsStalenessThreshold(Duration value) {
      this.stalenessThreshold = EppServerOptions.positive(value, "metrics staleness threshold");
      return this;
    }

    /**
     * The scheme model-server metrics are scraped with, {@code http} (default) or {@code https}. Ignored when the
     * configuration has a {@code metrics-data-source} plugin, whose parameters take precedence as in the Go EPP;
     * likewise {@link #modelServerMetricsPath} and {@link #modelServerMetricsInsecureSkipVerify}.
     */
    public Builder modelServerMetricsScheme(String value) {
      this.modelServerMetricsScheme = EppServerOptions.scheme(value);
      return this;
    }

    /** The path model-server metrics are scraped from; default {@code /metrics}. */
    public Builder modelServerMetricsPath(String value) {
      this.modelServerMetricsPath = EppServerOptions.path(value);
      return this;
    }

    /** A port to scrape on every model server instead of the endpoint's own; default 0 (the endpoint's port). */
    public Builder modelServerMetricsPort(int value) {
      this.modelServerMetricsPort = EppServerOptions.port(value);
      return this;
    }

    /** Whether model servers' TLS certificates go unverified with {@code https}; default {@code true}, as in Go. */
    public Builder modelServerMetricsInsecureSkipVerify(boolean value) {
      this.modelServerMetricsInsecureSkipVerify = value;
      return this;
    }

    /** The largest request body accepted (larger gets 413); default 16 MiB. */
    public Builder maxRequestBodyBytes(int value) {
      this.maxRequestBodyBytes = EppServerOptions.maxRequestBodyBytes(value);
      return this;
    }

    /**
     * The most request and response body bytes all ext_proc streams together may buffer (a chunk beyond it fails its
     * request with 429); at least {@link #maxRequestBodyBytes}. Default 0: a quarter of the maximum heap, at least
     * {@link #maxRequestBodyBytes}.
     */
    public Builder maxBufferedBodyBytes(long value) {
      this.maxBufferedBodyBytes = EppServerOptions.maxBufferedBodyBytes(value);
      return this;
    }

    /**
     * How long an ext_proc connection may have no stream in flight before it is closed (GOAWAY; the gateway
     * reconnects when it needs to); default 5 minutes.
     */
    public Builder maxConnectionIdle(Duration value) {
      this.maxConnectionIdle = EppServerOptions.positive(value, "max connection idle");
      return this;
    }

    /** How long an ext_proc connection may be silent before the server pings it; default 1 minute. */
    public Builder keepAliveTime(Duration value) {
      this.keepAliveTime = EppServerOptions.positive(value, "keepalive time");
      return this;
    }

    /** How long the server waits for a ping's answer before it closes the connection; default 20 s. */
    public Builder keepAliveTimeout(Duration value) {
      this.keepAliveTimeout = EppServerOptions.positive(value, "keepalive timeout");
      return this;
    }

    /**
     * The most ext_proc streams (HTTP requests in flight) one gateway connection may have open; default unlimited,
     * as in gRPC-Go. A gateway whose connection reaches the limit opens another connection.
     */
    public Builder maxConcurrentStreamsPerConnection(int value) {
      this.maxConcurrentStreams = EppServerOptions.maxConcurrentStreams(value);
      return this;
    }

    /** How long an ext_proc stream may go without a message before it is cancelled; default 15 minutes. */
    public Builder streamIdleTimeout(Duration value) {
      this.streamIdleTimeout = Objects.requireNonNull(value, "streamIdleTimeout");
      return this;
    }

    /**
     * Whether ext_proc adds each scored endpoint's score to the request-path metadata
     * ({@code envoy.lb / x-gateway-destination-endpoint-scores}), as llm-d's {@code --emit-endpoint-scores}; default
     * {@code false}. Every request is then explained ({@link Director.Builder#explainEveryRequest}).
     */
    public Builder emitEndpointScores(boolean value) {
      this.emitEndpointScores = value;
      return this;
    }

    /** How long {@link EppServer#close()} lets ext_proc streams in flight finish; default 30 s, as llm-d-router. */
    public Builder drainTimeout(Duration value) {
      this.drainTimeout = EppServerOptions.drainTimeout(value);
      return this;
    }

    /**
     * Whether {@code /metrics} shows llm-d's ext_proc stream families ({@code llm_d_epp_extproc_streams_inflight},
     * {@code _streams_total{code}}, {@code _stream_duration_seconds}; llm-d's {@code --enable-grpc-stream-metrics});
     * default false, and then they are absent.
     */
    public Builder grpcStreamMetrics(boolean value) {
      this.grpcStreamMetrics = value;
      return this;
    }

    /**
     * The server, not yet started.
     *
     * @throws IllegalArgumentException if {@link #maxBufferedBodyBytes} is smaller than {@link #maxRequestBodyBytes}
     */
    public EppServer build() {
      return new EppServer(config, discovery, options(), scheduler, leaderElection, openTelemetry, watched);
    }

    /**
     * An election among the pool's replicas; default none (every replica reports ready on its own). With one, only
     * the leader reports ready; the server starts campaigning once its ports are bound, and gives leadership up first
     * thing when closed.
     */
    public Builder leaderElection(LeaderElection value) {
      this.leaderElection = Objects.requireNonNull(value, "leaderElection");
      return this;
    }

    /**
     * Where the server's periodic work runs (the readiness tick and certificate reload, the pool-gauge refresh, the
     * idle-stream sweep); default threads of the server's own. {@link EppServer#close()} cancels that work and never
     * shuts {@code value} down. Scraping, discovery and the ports keep their own threads.
     */
    public Builder scheduler(ScheduledExecutorService value) {
      this.scheduler = Objects.requireNonNull(value, "scheduler");
      return this;
    }

    /**
     * Traces requests with {@code value} (e.g. {@link Tracing#openTelemetry}): the ext_proc service's
     * {@code gateway.request} and the Director's {@code gateway.request_orchestration} spans, with the trace context
     * forwarded to the model server. The server owns it: {@link EppServer#close()} closes it, which exports the spans
     * still batched. Default: no tracing.
     */
    public Builder openTelemetry(OpenTelemetrySdk value) {
      this.openTelemetry = Objects.requireNonNull(value, "openTelemetry");
      return this;
    }

    /**
     * Reloads the configuration when {@code file} changes, without a restart; default off. The file is read every
     * second; new content is applied once two consecutive reads agree (through the path, so a Kubernetes ConfigMap
     * volume's symlink swap is seen), loaded with {@code loader} (the loader the configuration was loaded with,
     * which the server takes over) {@linkplain EndpointPickerConfig.Loader#reusing reusing} the running
     * configuration's unchanged plugins and their state. New ext_proc streams route with the new configuration; those
     * in flight finish with the one they started with, which is closed (with the plugins not reused) when they have
     * ended or after the {@link #drainTimeout}. A file that does not load changes nothing: one WARN line with its
     * {@code file:line: message}, counted in {@code llm_d_epp_config_reloads_total{result="failure"}} (applied ones
     * in {@code result="success"}, each logged at INFO with what changed). The feature gates and the data-layer
     * plugins (the scraping) cannot change live: a file changing them is refused the same way.
     */
    public Builder watchConfigFile(Path file, EndpointPickerConfig.Loader loader) {
      this.watched = new ConfigSource(Objects.requireNonNull(file, "file"), Objects.requireNonNull(loader, "loader"));
      return this;
    }

    private EppServerOptions options() {
      return new EppServerOptions(poolName, objectives, modelRewrites, grpcPort, healthPort, metricsPort, metricsToken,
          secureServing, certPath, certReload, healthChecking, readiness, refreshMetricsInterval, poolMetricsInterval,
          stalenessThreshold, modelServerMetricsScheme, modelServerMetricsPath, modelServerMetricsPort,
          modelServerMetricsInsecureSkipVerify, maxRequestBodyBytes, maxBufferedBodyBytes, streamIdleTimeout,
          maxConcurrentStreams, maxConnectionIdle, keepAliveTime, keepAliveTimeout, drainTimeout, grpcStreamMetrics,
          emitEndpointScores);
    }
  }
}
