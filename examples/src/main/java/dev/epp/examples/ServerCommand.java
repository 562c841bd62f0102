package dev.epp.examples;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointDiscovery;
import dev.epp.discovery.FileDiscovery;
import dev.epp.examples.logging.JavaUtilLogging;
import dev.epp.examples.logging.Logs;
import dev.epp.discovery.IpPort;
import dev.epp.discovery.StaticDiscovery;
import dev.epp.extproc.ExtProcService;
import dev.epp.kubernetes.KubernetesClients;
import dev.epp.kubernetes.KubernetesDiscovery;
import dev.epp.kubernetes.KubernetesLeaderElection;
import dev.epp.kubernetes.KubernetesModelRewrites;
import dev.epp.kubernetes.KubernetesObjectives;
import dev.epp.kubernetes.PoolRef;
import dev.epp.metrics.export.EppMetrics;
import dev.epp.metrics.export.MetricsExporter;
import dev.epp.scheduler.ConfigException;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.server.EppServer;
import dev.epp.server.LeaderElection;
import dev.epp.server.Tracing;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code server} command: the EPP as a standalone Envoy ext_proc server ({@link EppServer}) with the Go EPP's
 * flag names and defaults, over endpoints listed on the command line or in a watched file.
 *
 * <p>{@link #run} blocks until {@link #stop()} (called by the shutdown hook on SIGTERM or SIGINT), then closes the
 * server gracefully and returns 0; it returns 2 for a command line that cannot be used and 1 when the server cannot
 * start, after printing one line to the error stream.
 *
 * <p><b>Threading:</b> {@link #run} once, on any thread; {@link #stop()} from any thread.
 */
final class ServerCommand extends LongRunningCommand<EppServer> {

  private static final Logger log = LoggerFactory.getLogger(ServerCommand.class);

  /** The environment variable holding the token {@code /metrics} requires with {@code --metrics-endpoint-auth}. */
  static final String METRICS_TOKEN_ENV = "EPP_METRICS_TOKEN";

  private static final String DESCRIPTION = """
      Runs the Endpoint Picker as an Envoy ext_proc gRPC server (as the Go EPP does), with gRPC health and
      Prometheus /metrics. Endpoints come from --endpoints or a watched --endpoints-file, or from Kubernetes: the
      pods selected by the InferencePool named by --pool-name (with InferenceObjective priorities and
      InferenceModelRewrite rules), or by --endpoint-selector with --endpoint-target-ports. Differences from the Go EPP's
      defaults: --metrics-endpoint-auth is false (true needs the token in $EPP_METRICS_TOKEN instead of a
      Kubernetes TokenReview), readiness needs an endpoint with fresh metrics (--readiness), and request bodies
      are capped (--max-request-body-bytes).""";

  private final PrintStream out;
  private final PrintStream err;
  private final Map<String, String> env;

  private KubernetesClient kubernetes;
  private KubernetesObjectives objectives;
  private KubernetesModelRewrites modelRewrites;
  private final Cli flags = new Cli("java -jar epp-examples.jar server [flags]", DESCRIPTION);
  private final Cli.Flag<String> poolName = flags.string("pool-name", "",
      "the pool's name, the name label of the inference_pool_* metrics; empty: " + EppServer.DEFAULT_POOL_NAME);
  private final Cli.Flag<String> poolNamespace = flags.string("pool-namespace", "",
      "the pool's namespace, for logs; empty: $NAMESPACE, else default");
  private final Cli.Flag<String> poolGroup = flags.string("pool-group", PoolRef.DEFAULT_GROUP,
      "API group of the InferencePool");
  private final Cli.Flag<String> endpointSelector = flags.string("endpoint-selector", "",
      "Kubernetes standalone mode without the InferencePool CRD: pod label selector k=v,k2=v2");
  private final Cli.Flag<String> targetPorts = flags.string("endpoint-target-ports", "",
      "with --endpoint-selector: the pods' model-server ports, p1,p2,... (1 to 8)");
  private final Cli.Flag<String> endpoints = flags.string("endpoints", "",
      "static endpoints, ip:port,... ([ipv6]:port); each is named by its ip:port");
  private final Cli.Flag<Path> endpointsFile = flags.path("endpoints-file",
      "file of endpoints, one '<name> <ip>:<port> [label=value ...]' per line, re-read when it changes");
  private final Cli.Flag<Integer> grpcPort = flags.integer("grpc-port", EppServer.DEFAULT_GRPC_PORT, 0, 65535,
      "ext_proc gRPC port");
  private final Cli.Flag<Integer> healthPort = flags.integer("grpc-health-port", EppServer.DEFAULT_HEALTH_PORT,
      0, 65535, "gRPC health port (plaintext)");
  private final Cli.Flag<Integer> metricsPort = flags.integer("metrics-port", MetricsExporter.DEFAULT_PORT,
      0, 65535, "Prometheus /metrics port");
  private final Cli.Flag<Boolean> metricsAuth = flags.bool("metrics-endpoint-auth", false,
      "require 'Authorization: Bearer <token>' on /metrics, the token taken from $" + METRICS_TOKEN_ENV);
  private final Cli.Flag<Boolean> grpcStreamMetrics = flags.bool("enable-grpc-stream-metrics", false,
      "export ext_proc stream metrics (llm_d_epp_extproc_streams_inflight, _streams_total, _stream_duration_seconds)");
  private final Cli.Flag<Boolean> secureServing = flags.bool("secure-serving", true,
      "serve ext_proc with TLS");
  private final Cli.Flag<Path> certPath = flags.path("cert-path",
      "directory with tls.crt and tls.key (PEM); without it a self-signed certificate is made at start");
  private final Cli.Flag<Boolean> certReload = flags.bool("enable-cert-reload", false,
      "reload tls.crt and tls.key from --cert-path when they change");
  private final Cli.Flag<Boolean> healthChecking = flags.bool("health-checking", false,
      "also serve gRPC health on the ext_proc port");
  private final Cli.Flag<Boolean> emitEndpointScores = flags.bool("emit-endpoint-scores", false,
      "add each scored endpoint's score to the request-path metadata (envoy.lb / "
          + "x-gateway-destination-endpoint-scores), as llm-d");
  private final Cli.Flag<String> readiness = flags.choice("readiness", "fresh-metrics",
      List.of("fresh-metrics", "discovery-synced"),
      "ready when an endpoint has fresh metrics, or as soon as discovery has loaded (the Go EPP's rule)");
  private final Cli.Flag<Path> configFile = flags.path("config-file",
      "EndpointPickerConfig YAML file; without it and --config-text the default configuration");
  private final Cli.Flag<Boolean> watchConfigFile = flags.bool("watch-config-file", false,
      "re-read --config-file when it changes and apply it without a restart (unchanged plugins keep their state; "
          + "a file that does not load changes nothing)");
  private final Cli.Flag<String> configText = flags.string("config-text", "",
      "EndpointPickerConfig YAML text");
  private final Cli.Flag<Boolean> allowExperimental = flags.bool("allow-experimental-plugins", false,
      "allow plugin types of llm-d's Alpha stability level in the configuration");
  private final Cli.Flag<Duration> refreshMetrics = flags.duration("refresh-metrics-interval", "50ms",
      "time between metric scrapes of one model server");
  private final Cli.Flag<Duration> refreshPrometheus = flags.duration("refresh-prometheus-metrics-interval", "5s",
      "time between refreshes of the inference_pool_* gauges; also refreshed as soon as the first endpoint has "
          + "fresh metrics and when the last goes stale");
  private final Cli.Flag<Duration> staleness = flags.duration("metrics-staleness-threshold", "2s",
      "age after which an endpoint's metrics are stale: not ready, and not routed to while others are fresh");
  private final Cli.Flag<String> scrapeScheme = flags.choice("model-server-metrics-scheme", "http",
      List.of("http", "https"), "scheme of model-server metrics, unless the config has a metrics-data-source");
  private final Cli.Flag<String> scrapePath = flags.string("model-server-metrics-path", "/metrics",
      "path of model-server metrics, unless the config has a metrics-data-source");
  private final Cli.Flag<Integer> scrapePort = flags.integer("model-server-metrics-port", 0, 0, 65535,
      "port of model-server metrics; 0: the endpoint's port");
  private final Cli.Flag<Boolean> scrapeInsecure = flags.bool("model-server-metrics-https-insecure-skip-verify",
      true, "accept any model-server certificate with https, unless the config has a metrics-data-source");
  private final Cli.Flag<Integer> maxBodyBytes = flags.integer("max-request-body-bytes",
      ExtProcService.DEFAULT_MAX_REQUEST_BODY_BYTES, 1, Integer.MAX_VALUE,
      "largest request body routed; larger ones get 413");
  private final Cli.Flag<Integer> maxBufferedBodyBytes = flags.integer("max-buffered-body-bytes", 0, 0,
      Integer.MAX_VALUE, "most request and response body bytes buffered across all ext_proc streams (beyond it, 429);"
          + " 0: a quarter of the maximum heap, at least --max-request-body-bytes");
  private final Cli.Flag<Integer> maxStreams = flags.integer("grpc-max-concurrent-streams", 0, 0, Integer.MAX_VALUE,
      "most ext_proc streams per gateway connection; 0: unlimited");
  private final Cli.Flag<Duration> maxConnectionIdle = flags.duration("grpc-max-connection-idle",
      EppServer.DEFAULT_MAX_CONNECTION_IDLE.toMinutes() + "m",
      "close an ext_proc connection that has had no stream for this long");
  private final Cli.Flag<Duration> keepAliveTime = flags.duration("grpc-keepalive-time",
      EppServer.DEFAULT_KEEPALIVE_TIME.toMinutes() + "m", "ping an ext_proc connection that is silent for this long");
  private final Cli.Flag<Duration> keepAliveTimeout = flags.duration("grpc-keepalive-timeout",
      EppServer.DEFAULT_KEEPALIVE_TIMEOUT.toSeconds() + "s", "close a connection whose ping is unanswered this long");
  private final Cli.Flag<Duration> streamIdleTimeout = flags.duration("stream-idle-timeout", "15m",
      "cancel an ext_proc stream that receives no message for this long (frees its buffers)");
  private final Cli.Flag<Boolean> tracing = flags.bool("tracing", true,
      "trace requests with OpenTelemetry, set up by the OTEL_* environment variables (console exporter by default)");
  private final Cli.Flag<Duration> drainTimeout = flags.duration("drain-timeout",
      EppServer.DEFAULT_DRAIN_TIMEOUT.toSeconds() + "s", "on SIGTERM, how long streams in flight may finish");
  private final Cli.Flag<Boolean> leaderElection = flags.bool("ha-enable-leader-election", false,
      "only the replica holding the Kubernetes Lease epp-<namespace>-<pool>.gateway-api-inference-extension.sigs.k8s.io"
          + " reports ready (identity $POD_NAME)");
  private final LoggingFlags logging = new LoggingFlags(flags);
  private final List<Cli.Flag<String>> deprecatedMetricFlags = Stream.of("total-queued-requests-metric",
          "total-running-requests-metric", "kv-cache-usage-percentage-metric", "lora-info-metric", "cache-info-metric")
      .map(name -> flags.string(name, "", "deprecated by the Go EPP v1.5 and refused: map engine metrics with "
          + "engineConfigs in the EndpointPickerConfig"))
      .toList();

  /**
   * @param out where {@code --help} goes
   * @param err where command-line and start errors go, one line each
   * @param env the environment ({@code NAMESPACE}, {@value #METRICS_TOKEN_ENV}, the {@code OTEL_*} variables of
   *     {@link Tracing})
   */
  ServerCommand(PrintStream out, PrintStream err, Map<String, String> env) {
    this.out = out;
    this.err = err;
    this.env = env;
  }

  @Override
  int serve(String[] args) {
    EppServer server;
    String source;
    try {
      if (!flags.parse(args)) {
        flags.printHelp(out);
        return 0;
      }
      Logs.configure(logging.settings());
      JavaUtilLogging.toSlf4j();
      for (Cli.Flag<String> deprecated : deprecatedMetricFlags) {
        if (deprecated.isSet()) {
          throw new Cli.UsageException("flag \"" + deprecated.option().substring(2) + "\" is deprecated and cannot be "
              + "used; configure metrics via engineConfigs in EndpointPickerConfig instead");
        }
      }
      EndpointDiscovery discovery = discovery();
      source = endpoints.isSet() ? endpoints.get()
          : endpointsFile.isSet() ? "file " + endpointsFile.get()
          : endpointSelector.isSet() ? "pods selected by " + endpointSelector.get()
          : "InferencePool " + poolName.get();
      if (configFile.isSet() && configText.isSet()) {
        throw new Cli.UsageException("--config-file and --config-text are mutually exclusive");
      }
      if (watchConfigFile.get() && !configFile.isSet()) {
        throw new Cli.UsageException("--watch-config-file needs --config-file");
      }
      if (!scrapePath.get().startsWith("/")) {
        throw new Cli.UsageException("--model-server-metrics-path must start with '/'");
      }
      if (maxBufferedBodyBytes.get() != 0 && maxBufferedBodyBytes.get() < maxBodyBytes.get()) {
        throw new Cli.UsageException("--max-buffered-body-bytes must be at least --max-request-body-bytes");
      }
      String token = metricsAuth.get() ? env.get(METRICS_TOKEN_ENV) : null;
      if (metricsAuth.get() && (token == null || token.isBlank())) {
        throw new Cli.UsageException("--metrics-endpoint-auth needs the bearer token in $" + METRICS_TOKEN_ENV);
      }
      StartCheck.readableFile(endpointsFile);
      StartCheck.readableFile(configFile);
      if (secureServing.get()) {
        StartCheck.directoryWith(certPath, "tls.crt", "tls.key");
      }
      EndpointPickerConfig.Loader loader = EndpointPickerConfig.loader().metrics(EppMetrics.create())
          .allowExperimentalPlugins(allowExperimental.get());
      EndpointPickerConfig config = configFile.isSet()
          ? loader.load(configFile.get())
          : loader.parse(configText.get(), "--config-text");
      Tracing.Settings traced = tracing.get() ? tracingSettings() : null;
      StartCheck.portsFree(null, List.of(grpcPort, healthPort, metricsPort));
      EppServer.Builder builder = configure(EppServer.builder(config, discovery), token);
      if (leaderElection.get()) {
        builder.leaderElection(leaderElection());
      }
      if (watchConfigFile.get()) {
        builder.watchConfigFile(configFile.get(), loader);
      }
      if (traced != null) {
        builder.openTelemetry(Tracing.openTelemetry(traced));
      }
      server = builder.build();
    } catch (Cli.UsageException e) {
      err.println("server: " + e.getMessage() + " (see --help)");
      return 2;
    } catch (StartCheck.Failure e) {
      err.println("server: " + e.getMessage());
      closeKubernetes();
      return 1;
    } catch (ConfigException e) {
      err.println("server: invalid configuration: " + oneLine(e.getMessage()));
      closeKubernetes();
      return 1;
    } catch (IllegalStateException | KubernetesClientException e) {
      err.println("server: " + oneLine(e.getMessage()));
      closeKubernetes();
      return 1;
    }
    try {
      server.start();
    } catch (EppServer.StartException e) {
      err.println("server: " + oneLine(e.getMessage()));
      closeKubernetes();
      return 1;
    }
    log.info("Serving pool {}/{} with endpoints from {}", namespace(),
        poolName.get().isBlank() ? EppServer.DEFAULT_POOL_NAME : poolName.get(), source);
    try {
      awaitStop(server);
    } finally {
      server.close();
      closeKubernetes();
    }
    return 0;
  }

  /** The tracing settings of the {@code OTEL_*} variables. */
  private Tracing.Settings tracingSettings() throws StartCheck.Failure {
    try {
      return Tracing.Settings.fromEnvironment(env);
    } catch (IllegalArgumentException e) {
      throw new StartCheck.Failure(oneLine(e.getMessage()));
    }
  }

  private EndpointDiscovery discovery() throws Cli.UsageException {
    int sources = (endpoints.isSet() ? 1 : 0) + (endpointsFile.isSet() ? 1 : 0) + (endpointSelector.isSet() ? 1 : 0);
    if (sources > 1) {
      throw new Cli.UsageException("--endpoints, --endpoints-file and --endpoint-selector are mutually exclusive");
    }
    if (endpointsFile.isSet()) {
      return new FileDiscovery(endpointsFile.get());
    }
    if (endpoints.isSet()) {
      return new StaticDiscovery(parseEndpoints(endpoints.get()));
    }
    String namespace = namespace();
    if (endpointSelector.isSet()) {
      Map<String, String> selector;
      try {
        selector = KubernetesDiscovery.parseSelector(endpointSelector.get());
      } catch (IllegalArgumentException e) {
        throw new Cli.UsageException("invalid --endpoint-selector: " + e.getMessage());
      }
      List<Integer> ports = parsePorts(targetPorts.get());
      kubernetes = KubernetesClients.fromEnvironment();
      return KubernetesDiscovery.forSelector(kubernetes, namespace, selector, ports);
    }
    if (poolName.get().isBlank()) {
      throw new Cli.UsageException("no endpoints to route to: give --pool-name (Kubernetes InferencePool), "
          + "--endpoint-selector with --endpoint-target-ports, --endpoints ip:port,... or --endpoints-file PATH");
    }
    PoolRef pool = new PoolRef(namespace, poolName.get(), poolGroup.get());
    kubernetes = KubernetesClients.fromEnvironment();
    objectives = KubernetesObjectives.start(kubernetes, pool);
    modelRewrites = KubernetesModelRewrites.start(kubernetes, pool);
    return KubernetesDiscovery.forPool(kubernetes, pool);
  }

  /** {@code --pool-namespace}, else {@code $NAMESPACE}, else {@code default}, as the Go EPP. */
  /** The Go EPP's election: its lease name, with this pod's name (else host name and a random id) as identity. */
  private LeaderElection leaderElection() {
    if (kubernetes == null) {
      kubernetes = KubernetesClients.fromEnvironment();
    }
    String pool = poolName.get().isBlank() ? EppServer.DEFAULT_POOL_NAME : poolName.get();
    String identity = env.getOrDefault("POD_NAME", "");
    if (identity.isBlank()) {
      identity = hostName() + "_" + UUID.randomUUID();
    }
    KubernetesLeaderElection election = new KubernetesLeaderElection(kubernetes, namespace(),
        KubernetesLeaderElection.leaseName(namespace(), pool), identity);
    return new LeaderElection() {
      @Override
      public void start(Runnable onLeading, Runnable onLost) {
        election.start(onLeading, onLost);
      }

      @Override
      public void close() {
        election.close();
      }
    };
  }

  private static String hostName() {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (UnknownHostException e) {
      return "epp";
    }
  }

  private String namespace() {
    return poolNamespace.get().isBlank() ? env.getOrDefault("NAMESPACE", "default") : poolNamespace.get();
  }

  private static List<Integer> parsePorts(String list) throws Cli.UsageException {
    if (list.isBlank()) {
      throw new Cli.UsageException("--endpoint-selector needs --endpoint-target-ports");
    }
    List<Integer> ports = new ArrayList<>();
    for (String entry : list.split(",", -1)) {
      try {
        int port = Integer.parseInt(entry.strip());
        if (port < 1 || port > 65535) {
          throw new NumberFormatException();
        }
        ports.add(port);
      } catch (NumberFormatException e) {
        throw new Cli.UsageException("invalid --endpoint-target-ports entry '" + entry.strip() + "'");
      }
    }
    return ports;
  }

  private void closeKubernetes() {
    for (AutoCloseable closeable : new AutoCloseable[] {objectives, modelRewrites, kubernetes}) {
      if (closeable != null) {
        try {
          closeable.close();
        } catch (Exception e) {
          log.warn("closing the Kubernetes client failed: {}", e.toString());
        }
      }
    }
  }

  private EppServer.Builder configure(EppServer.Builder builder, String metricsToken) {
    if (!poolName.get().isBlank()) {
      builder.poolName(poolName.get());
    }
    if (objectives != null) {
      builder.objectives(objectives).modelRewrites(modelRewrites);
    }
    return builder.metricsBearerToken(metricsToken == null ? null : metricsToken.strip())
        .grpcPort(grpcPort.get())
        .healthPort(healthPort.get())
        .metricsPort(metricsPort.get())
        .grpcStreamMetrics(grpcStreamMetrics.get())
        .secureServing(secureServing.get())
        .certPath(certPath.get())
        .certReload(certReload.get())
        .healthChecking(healthChecking.get())
        .emitEndpointScores(emitEndpointScores.get())
        .readiness(readiness.get().equals("fresh-metrics")
            ? EppServer.Readiness.FRESH_METRICS : EppServer.Readiness.DISCOVERY_SYNCED)
        .refreshMetricsInterval(refreshMetrics.get())
        .refreshPrometheusMetricsInterval(refreshPrometheus.get())
        .metricsStalenessThreshold(staleness.get())
        .modelServerMetricsScheme(scrapeScheme.get())
        .modelServerMetricsPath(scrapePath.get())
        .modelServerMetricsPort(scrapePort.get())
        .modelServerMetricsInsecureSkipVerify(scrapeInsecure.get())
        .maxRequestBodyBytes(maxBodyBytes.get())
        .maxBufferedBodyBytes(maxBufferedBodyBytes.get())
        .maxConcurrentStreamsPerConnection(maxStreams.get() == 0 ? Integer.MAX_VALUE : maxStreams.get())
        .maxConnectionIdle(maxConnectionIdle.get())
        .keepAliveTime(keepAliveTime.get())
        .keepAliveTimeout(keepAliveTimeout.get())
        .streamIdleTimeout(streamIdleTimeout.get())
        .drainTimeout(drainTimeout.get());
  }

  /** Endpoints from {@code ip:port,...}, each named by its {@code ip:port}. */
  static List<Endpoint> parseEndpoints(String list) throws Cli.UsageException {
    List<Endpoint> parsed = new ArrayList<>();
    Set<String> names = new HashSet<>();
    for (String entry : list.split(",", -1)) {
      String hostPort = entry.strip();
      IpPort address;
      try {
        address = IpPort.parse(hostPort);
      } catch (IllegalArgumentException e) {
        throw new Cli.UsageException("invalid --endpoints entry '" + hostPort + "': " + e.getMessage());
      }
      Endpoint endpoint = Endpoint.of(address.toString(), address.ip(), address.port());
      if (!names.add(endpoint.name())) {
        throw new Cli.UsageException("--endpoints lists " + endpoint.name() + " twice");
      }
      parsed.add(endpoint);
    }
    return parsed;
  }


  /** {@code message} on one line, {@code ""} for {@code null}. */
  static String oneLine(String message) {
    return message == null ? "" : message.strip().replaceAll("\\s*\\R\\s*", " ");
  }
}
