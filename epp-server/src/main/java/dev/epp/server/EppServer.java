package dev.epp.server;

import dev.epp.api.EndpointDiscovery;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.Ticker;
import dev.epp.api.requestcontrol.ModelRewrites;
import dev.epp.api.requestcontrol.Objectives;
import dev.epp.api.scheduling.Candidates;
import dev.epp.extproc.ExtProcService;
import dev.epp.extproc.MalformedInput;
import dev.epp.metrics.CoreMetricsExtractor;
import dev.epp.metrics.EppMetrics;
import dev.epp.metrics.MetricsDataSource;
import dev.epp.metrics.MetricsExporter;
import dev.epp.metrics.MetricsScraper;
import dev.epp.scheduler.Director;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.scheduler.EndpointPool;
import dev.epp.scheduler.plugins.ApproxPrefixCacheProducer;
import io.envoyproxy.envoy.service.ext_proc.v3.ExternalProcessorGrpc;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.ServerCredentials;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
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
 * discovery has loaded its source, as the Go EPP without leader election does. Readiness is re-evaluated every second.
 * Other service names are {@code NOT_FOUND}. With {@link Builder#healthChecking(boolean) healthChecking}, the same
 * health service is also served on the ext_proc port. {@link #close()} turns every name but {@code liveness}
 * {@code NOT_SERVING} first.
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

  private final EndpointPickerConfig config;
  private final EndpointDiscovery discovery;
  private final String poolName;
  private final Objectives objectives;
  private final ModelRewrites modelRewrites;
  private final int grpcPortSetting;
  private final int healthPortSetting;
  private final int metricsPortSetting;
  private final String metricsToken;
  private final boolean secureServing;
  private final Path certPath;
  private final boolean certReload;
  private final boolean healthChecking;
  private final Readiness readiness;
  private final Duration refreshMetricsInterval;
  private final Duration poolMetricsInterval;
  private final Duration stalenessThreshold;
  private final String modelServerMetricsScheme;
  private final String modelServerMetricsPath;
  private final int modelServerMetricsPort;
  private final boolean modelServerMetricsInsecureSkipVerify;
  private final int maxRequestBodyBytes;
  private final long maxBufferedBodyBytes;
  private final Duration streamIdleTimeout;
  private final int maxConcurrentStreams;
  private final Duration maxConnectionIdle;
  private final Duration keepAliveTime;
  private final Duration keepAliveTimeout;
  private final Duration drainTimeout;

  private final EndpointPool pool = new EndpointPool();
  private final EppMetrics metrics = EppMetrics.create();
  private final HealthStatusManager health = new HealthStatusManager();
  private State state = State.NEW;
  private boolean discoveryStarted;
  private MetricsScraper scraper;
  private Server grpcServer;
  private ExtProcService extProc;
  private Server healthServer;
  private MetricsExporter exporter;
  private ScheduledExecutorService readinessTicker;
  private Boolean ready; // confined to the readiness ticker
  private Boolean anyFresh; // confined to the readiness ticker

  private EppServer(Builder b) {
    config = b.config;
    discovery = b.discovery;
    poolName = b.poolName;
    objectives = b.objectives;
    modelRewrites = b.modelRewrites;
    grpcPortSetting = b.grpcPort;
    healthPortSetting = b.healthPort;
    metricsPortSetting = b.metricsPort;
    metricsToken = b.metricsToken;
    secureServing = b.secureServing;
    certPath = b.certPath;
    certReload = b.certReload;
    healthChecking = b.healthChecking;
    readiness = b.readiness;
    refreshMetricsInterval = b.refreshMetricsInterval;
    poolMetricsInterval = b.poolMetricsInterval;
    stalenessThreshold = b.stalenessThreshold;
    modelServerMetricsScheme = b.modelServerMetricsScheme;
    modelServerMetricsPath = b.modelServerMetricsPath;
    modelServerMetricsPort = b.modelServerMetricsPort;
    modelServerMetricsInsecureSkipVerify = b.modelServerMetricsInsecureSkipVerify;
    maxRequestBodyBytes = b.maxRequestBodyBytes;
    maxBufferedBodyBytes = b.maxBufferedBodyBytes;
    streamIdleTimeout = b.streamIdleTimeout;
    maxConcurrentStreams = b.maxConcurrentStreams;
    maxConnectionIdle = b.maxConnectionIdle;
    keepAliveTime = b.keepAliveTime;
    keepAliveTimeout = b.keepAliveTimeout;
    drainTimeout = b.drainTimeout;
    for (String service : HEALTH_SERVICES) {
      health.setStatus(service, service.equals(LIVENESS) ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
    }
  }

  /** A builder of a server routing with {@code config} over the endpoints that {@code discovery} finds. */
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
      ReloadingKeyManager keyManager = secureServing && certPath != null ? ServerTls.keyManager(certPath) : null;
      ServerCredentials credentials = !secureServing ? InsecureServerCredentials.create()
          : keyManager != null ? ServerTls.credentials(keyManager) : ServerTls.selfSigned();
      Director director = Director.builder(config, pool)
          .objectives(objectives)
          .modelRewrites(modelRewrites)
          .metrics(metrics)
          .stalenessThreshold(stalenessThreshold)
          .build();
      scraper = scraper();
      try {
        discovery.start(pool);
      } catch (RuntimeException e) {
        throw new StartException("endpoint discovery failed: " + e.getMessage(), e);
      }
      discoveryStarted = true;
      scraper.start();
      metrics.monitorPool(poolName, pool, Ticker.system(), stalenessThreshold, poolMetricsInterval);
      List<ApproxPrefixCacheProducer> prefixProducers = config.plugins(ApproxPrefixCacheProducer.class);
      metrics.prefixIndexerSize(() -> prefixProducers.stream().mapToLong(ApproxPrefixCacheProducer::indexSize).sum());
      MalformedInput.install();
      metrics.malformedGrpcInput(MalformedInput::total);

      extProc = ExtProcService.builder(director)
          .metrics(metrics)
          .maxRequestBodyBytes(maxRequestBodyBytes)
          .maxBufferedBodyBytes(maxBufferedBodyBytes)
          .streamIdleTimeout(streamIdleTimeout)
          .build();
      NettyServerBuilder grpc = NettyServerBuilder.forPort(grpcPortSetting, credentials)
          .directExecutor()
          .addService(extProc)
          .maxInboundMessageSize((int) Math.min(Integer.MAX_VALUE, (long) maxRequestBodyBytes + MESSAGE_OVERHEAD_BYTES))
          .maxConcurrentCallsPerConnection(maxConcurrentStreams)
          .maxConnectionIdle(maxConnectionIdle.toNanos(), TimeUnit.NANOSECONDS)
          .keepAliveTime(keepAliveTime.toNanos(), TimeUnit.NANOSECONDS)
          .keepAliveTimeout(keepAliveTimeout.toNanos(), TimeUnit.NANOSECONDS);
      if (healthChecking) {
        grpc.addService(health.getHealthService());
      }
      grpcServer = bind(grpc, "ext_proc gRPC", grpcPortSetting);
      healthServer = bind(NettyServerBuilder.forPort(healthPortSetting, InsecureServerCredentials.create())
          .directExecutor()
          .addService(health.getHealthService()), "gRPC health", healthPortSetting);
      try {
        exporter = MetricsExporter.start(new InetSocketAddress(metricsPortSetting), metrics.registry(), metricsToken);
      } catch (UncheckedIOException e) {
        throw new StartException("cannot listen for metrics on port " + metricsPortSetting + ": " + rootMessage(e), e);
      }

      log.info("EPP started: pool {} with {} endpoint(s); ext_proc on port {} ({}{}), health on port {}, "
              + "metrics on port {}{}", poolName, pool.snapshot().size(), grpcPort(),
          !secureServing ? "plaintext" : certPath != null ? "TLS from " + certPath : "TLS, self-signed",
          healthChecking ? ", with health" : "", healthPort(), metricsPort(),
          metricsToken != null ? " (bearer token required)" : "");
      readinessTicker = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "epp-readiness");
        t.setDaemon(true);
        return t;
      });
      readinessTicker.scheduleWithFixedDelay(this::updateReadiness, 0, READINESS_TICK_MILLIS, TimeUnit.MILLISECONDS);
      if (keyManager != null && certReload) {
        readinessTicker.scheduleWithFixedDelay(keyManager::reloadIfChanged, READINESS_TICK_MILLIS,
            READINESS_TICK_MILLIS, TimeUnit.MILLISECONDS);
      }
      return this;
    } catch (RuntimeException e) {
      stop(Duration.ZERO);
      state = State.CLOSED;
      throw e;
    }
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
   * Kubernetes must not restart it), the ext_proc port stops accepting streams and those in flight get up to the
   * drain timeout to finish (then they are cancelled), then the health and metrics ports close and scraping and
   * discovery stop. Returns when every port is released. Idempotent.
   */
  @Override
  public synchronized void close() {
    if (state == State.CLOSED) {
      return;
    }
    boolean wasStarted = state == State.STARTED;
    state = State.CLOSED;
    stop(drainTimeout);
    if (wasStarted) {
      log.info("EPP stopped");
    }
  }

  private void stop(Duration drain) {
    if (readinessTicker != null) {
      readinessTicker.shutdownNow();
      try {
        readinessTicker.awaitTermination(5, TimeUnit.SECONDS); // a tick in progress must not turn readiness back on
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    setReadiness(ServingStatus.NOT_SERVING);
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
    metrics.close();
  }

  private void updateReadiness() {
    int fresh = freshEndpoints();
    if (anyFresh == null || anyFresh != fresh > 0) {
      // Between two pool-gauge refreshes, so that inference_pool_ready_pods agrees with readiness from the
      // first scrapes on, not one refresh interval later.
      anyFresh = fresh > 0;
      metrics.refreshPoolGauges();
    }
    boolean now;
    String reason;
    if (readiness == Readiness.DISCOVERY_SYNCED) {
      now = true;
      reason = "endpoint discovery has synced";
    } else {
      now = fresh > 0;
      reason = now ? fresh + " endpoint(s) have fresh metrics"
          : "no endpoint has metrics fresher than " + stalenessThreshold.toMillis() + " ms";
    }
    if (ready == null || ready != now) {
      ready = now;
      setReadiness(now ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
      log.info("EPP {}: {}", now ? "ready" : "not ready", reason);
    }
  }

  /** Sets every health name but {@link #LIVENESS}. */
  private void setReadiness(ServingStatus status) {
    for (String service : HEALTH_SERVICES) {
      if (!service.equals(LIVENESS)) {
        health.setStatus(service, status);
      }
    }
  }

  private int freshEndpoints() {
    Candidates snapshot = pool.snapshot();
    long now = System.nanoTime();
    long maxAge = stalenessThreshold.toNanos();
    int fresh = 0;
    for (int i = 0; i < snapshot.size(); i++) {
      if (snapshot.metrics(i).isFresh(now, maxAge)) {
        fresh++;
      }
    }
    return fresh;
  }

  private MetricsScraper scraper() {
    List<MetricsDataSource> sources = config.plugins(MetricsDataSource.class);
    List<CoreMetricsExtractor> extractors = config.plugins(CoreMetricsExtractor.class);
    if (sources.size() > 1 || extractors.size() > 1) {
      throw new StartException("the configuration has more than one " + (sources.size() > 1
          ? MetricsDataSource.TYPE : CoreMetricsExtractor.TYPE) + " plugin; a pool has one metrics source");
    }
    MetricsScraper.Builder builder = MetricsScraper.builder(pool)
        .interval(refreshMetricsInterval)
        .metricsPort(modelServerMetricsPort);
    if (sources.isEmpty()) {
      builder.scheme(modelServerMetricsScheme)
          .path(modelServerMetricsPath)
          .insecureSkipVerify(modelServerMetricsInsecureSkipVerify);
    } else { // as in Go, the plugin's parameters take precedence over the (deprecated) flags
      MetricsDataSource source = sources.get(0);
      builder.scheme(source.scheme()).path(source.path()).insecureSkipVerify(source.insecureSkipVerify());
    }
    if (!extractors.isEmpty()) {
      builder.mappings(extractors.get(0).mappings());
    }
    return builder.build();
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
    private String poolName = DEFAULT_POOL_NAME;
    private Objectives objectives = Objectives.none();
    private ModelRewrites modelRewrites = ModelRewrites.none();
    private int grpcPort = DEFAULT_GRPC_PORT;
    private int healthPort = DEFAULT_HEALTH_PORT;
    private int metricsPort = MetricsExporter.DEFAULT_PORT;
    private String metricsToken;
    private boolean secureServing = true;
    private Path certPath;
    private boolean certReload;
    private boolean healthChecking;
    private Readiness readiness = Readiness.FRESH_METRICS;
    private Duration refreshMetricsInterval = Duration.ofMillis(50);
    private Duration poolMetricsInterval = EppMetrics.DEFAULT_POOL_REFRESH_INTERVAL;
    private Duration stalenessThreshold = EndpointMetrics.DEFAULT_STALENESS_THRESHOLD;
    private String modelServerMetricsScheme = "http";
    private String modelServerMetricsPath = "/metrics";
    private int modelServerMetricsPort;
    private boolean modelServerMetricsInsecureSkipVerify = true;
    private int maxRequestBodyBytes = ExtProcService.DEFAULT_MAX_REQUEST_BODY_BYTES;
    private long maxBufferedBodyBytes;
    private Duration streamIdleTimeout = ExtProcService.DEFAULT_STREAM_IDLE_TIMEOUT;
    private int maxConcurrentStreams = Integer.MAX_VALUE;
    private Duration maxConnectionIdle = DEFAULT_MAX_CONNECTION_IDLE;
    private Duration keepAliveTime = DEFAULT_KEEPALIVE_TIME;
    private Duration keepAliveTimeout = DEFAULT_KEEPALIVE_TIMEOUT;
    private Duration drainTimeout = DEFAULT_DRAIN_TIMEOUT;

    private Builder(EndpointPickerConfig config, EndpointDiscovery discovery) {
      this.config = Objects.requireNonNull(config, "config");
      this.discovery = Objects.requireNonNull(discovery, "discovery");
    }

    /** The pool's name, the {@code name} label of the pool metrics; default {@value #DEFAULT_POOL_NAME}. */
    public Builder poolName(String value) {
      if (value.isBlank()) {
        throw new IllegalArgumentException("pool name must not be blank");
      }
      this.poolName = value;
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
      this.grpcPort = port(value);
      return this;
    }

    /** The gRPC health port; default {@value #DEFAULT_HEALTH_PORT}; 0 picks a free port. */
    public Builder healthPort(int value) {
      this.healthPort = port(value);
      return this;
    }

    /** The {@code /metrics} port; default {@value MetricsExporter#DEFAULT_PORT}; 0 picks a free port. */
    public Builder metricsPort(int value) {
      this.metricsPort = port(value);
      return this;
    }

    /**
     * The bearer token {@code /metrics} requires, or {@code null} (default) for none; see {@link MetricsExporter}.
     */
    public Builder metricsBearerToken(String value) {
      if (value != null && value.isBlank()) {
        throw new IllegalArgumentException("bearer token must not be blank");
      }
      this.metricsToken = value;
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
      this.refreshMetricsInterval = positive(value, "refresh metrics interval");
      return this;
    }

    /**
     * Time between refreshes of the {@code inference_pool_*} gauges; default 5 s. They are also refreshed within a
     * second of the first endpoint's metrics turning fresh and of the last one's going stale, as readiness is.
     */
    public Builder refreshPrometheusMetricsInterval(Duration value) {
      this.poolMetricsInterval = positive(value, "refresh prometheus metrics interval");
      return this;
    }

    /** How old an endpoint's metrics may be for it to count as ready; default 2 s. */
    public Builder metricsStalenessThreshold(Duration value) {
      this.stalenessThreshold = positive(value, "metrics staleness threshold");
      return this;
    }

    /**
     * The scheme model-server metrics are scraped with, {@code http} (default) or {@code https}. Ignored when the
     * configuration has a {@code metrics-data-source} plugin, whose parameters take precedence as in the Go EPP;
     * likewise {@link #modelServerMetricsPath} and {@link #modelServerMetricsInsecureSkipVerify}.
     */
    public Builder modelServerMetricsScheme(String value) {
      if (!value.equals("http") && !value.equals("https")) {
        throw new IllegalArgumentException("scheme must be http or https: " + value);
      }
      this.modelServerMetricsScheme = value;
      return this;
    }

    /** The path model-server metrics are scraped from; default {@code /metrics}. */
    public Builder modelServerMetricsPath(String value) {
      if (!value.startsWith("/")) {
        throw new IllegalArgumentException("path must start with '/': " + value);
      }
      this.modelServerMetricsPath = value;
      return this;
    }

    /** A port to scrape on every model server instead of the endpoint's own; default 0 (the endpoint's port). */
    public Builder modelServerMetricsPort(int value) {
      this.modelServerMetricsPort = port(value);
      return this;
    }

    /** Whether model servers' TLS certificates go unverified with {@code https}; default {@code true}, as in Go. */
    public Builder modelServerMetricsInsecureSkipVerify(boolean value) {
      this.modelServerMetricsInsecureSkipVerify = value;
      return this;
    }

    /** The largest request body accepted (larger gets 413); default 16 MiB. */
    public Builder maxRequestBodyBytes(int value) {
      if (value <= 0) {
        throw new IllegalArgumentException("max request body bytes must be positive: " + value);
      }
      this.maxRequestBodyBytes = value;
      return this;
    }

    /**
     * The most request and response body bytes all ext_proc streams together may buffer (a chunk beyond it fails its
     * request with 429); at least {@link #maxRequestBodyBytes}. Default 0: a quarter of the maximum heap, at least
     * {@link #maxRequestBodyBytes}.
     */
    public Builder maxBufferedBodyBytes(long value) {
      if (value < 0) {
        throw new IllegalArgumentException("max buffered body bytes must not be negative: " + value);
      }
      this.maxBufferedBodyBytes = value;
      return this;
    }

    /**
     * How long an ext_proc connection may have no stream in flight before it is closed (GOAWAY; the gateway
     * reconnects when it needs to); default 5 minutes.
     */
    public Builder maxConnectionIdle(Duration value) {
      this.maxConnectionIdle = positive(value, "max connection idle");
      return this;
    }

    /** How long an ext_proc connection may be silent before the server pings it; default 1 minute. */
    public Builder keepAliveTime(Duration value) {
      this.keepAliveTime = positive(value, "keepalive time");
      return this;
    }

    /** How long the server waits for a ping's answer before it closes the connection; default 20 s. */
    public Builder keepAliveTimeout(Duration value) {
      this.keepAliveTimeout = positive(value, "keepalive timeout");
      return this;
    }

    /**
     * The most ext_proc streams (HTTP requests in flight) one gateway connection may have open; default unlimited,
     * as in gRPC-Go. A gateway whose connection reaches the limit opens another connection.
     */
    public Builder maxConcurrentStreamsPerConnection(int value) {
      if (value <= 0) {
        throw new IllegalArgumentException("max concurrent streams must be positive: " + value);
      }
      this.maxConcurrentStreams = value;
      return this;
    }

    /** How long an ext_proc stream may go without a message before it is cancelled; default 15 minutes. */
    public Builder streamIdleTimeout(Duration value) {
      this.streamIdleTimeout = Objects.requireNonNull(value, "streamIdleTimeout");
      return this;
    }

    /** How long {@link EppServer#close()} lets ext_proc streams in flight finish; default 30 s, as llm-d-router. */
    public Builder drainTimeout(Duration value) {
      if (value.isNegative()) {
        throw new IllegalArgumentException("drain timeout must not be negative: " + value);
      }
      this.drainTimeout = value;
      return this;
    }

    /**
     * The server, not yet started.
     *
     * @throws IllegalArgumentException if {@link #maxBufferedBodyBytes} is smaller than {@link #maxRequestBodyBytes}
     */
    public EppServer build() {
      if (maxBufferedBodyBytes != 0 && maxBufferedBodyBytes < maxRequestBodyBytes) {
        throw new IllegalArgumentException("max buffered body bytes (" + maxBufferedBodyBytes
            + ") must be at least max request body bytes (" + maxRequestBodyBytes + ")");
      }
      return new EppServer(this);
    }

    private static int port(int value) {
      if (value < 0 || value > 65535) {
        throw new IllegalArgumentException("port " + value + " is not in 0..65535");
      }
      return value;
    }

    private static Duration positive(Duration value, String what) {
      if (value.isNegative() || value.isZero()) {
        throw new IllegalArgumentException(what + " must be positive: " + value);
      }
      return value;
    }
  }
}
