package dev.epp.examples;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import dev.epp.discovery.FileDiscovery;
import dev.epp.examples.gateway.EndpointPicker;
import dev.epp.examples.gateway.Gateway;
import dev.epp.examples.simulator.SimulatedPods;
import dev.epp.extproc.ExtProcService;
import dev.epp.metrics.export.EppMetrics;
import dev.epp.metrics.export.MetricsExporter;
import dev.epp.scheduler.ConfigException;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.scheduler.plugins.disagg.DisaggProfileHandler;
import dev.epp.server.EppServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code demo} command: the EPP observability walkthrough on one machine. It runs, in this process, simulated vLLM
 * pods ({@link SimulatedPods}) listed in a temporary endpoints file, an {@link EppServer} that watches that file
 * (plaintext ext_proc, health, {@code /metrics}) and a {@link Gateway} routing through the EPP over ext_proc. The EPP
 * runs {@code --config-file}'s configuration, else with {@code --pd} the shipped {@code examples/configs/pd.yaml}
 * (packaged beside this class as {@value #PD_CONFIG}), else with {@code --precise} the shipped
 * {@code examples/configs/precise-prefix.yaml} ({@value #PRECISE_CONFIG}) with its token producer pointed at the first
 * pod's render endpoints, else the default one; with {@code --pd} the configuration must have a
 * {@code disagg-profile-handler}. The gateway also serves {@code /demo/replicas}: {@code GET} lists the pods,
 * {@code POST ?count=N} scales them and the EPP finds the change through the file; both answer
 * {@code {"replicas":N,"pods":[{"name":...,"endpoint":"127.0.0.1:port"},...]}}. The gateway and the pods listen on the
 * loopback address only.
 *
 * <p>{@link #run} prints what to try, then blocks until {@link #stop()} (called by the shutdown hook on SIGTERM or
 * SIGINT), closes everything, deletes the file and returns 0; it returns 2 for a command line that cannot be used and 1
 * when something cannot start, after printing one line to the error stream.
 *
 * <p><b>Threading:</b> {@link #run} once, on any thread; {@link #stop()} from any thread.
 */
final class DemoCommand extends LongRunningCommand<DemoCommand.Ports> {

  private static final String DESCRIPTION = """
      Runs the EPP observability walkthrough on one machine: simulated vLLM pods, the EPP (plaintext ext_proc; the
      default configuration, examples/configs/pd.yaml with --pd, examples/configs/precise-prefix.yaml with --precise,
      or --config-file's) discovering them through a
      watched endpoints file, and a gateway routing /v1/* through it.
      POST /demo/replicas?count=N on the gateway starts or stops pods; GET /demo/replicas lists them.""";
  private static final String PATH = "/demo/";
  private static final Pattern COUNT = Pattern.compile("(?:^|&)count=([^&]*)");
  private static final ObjectMapper JSON = new ObjectMapper();
  /** The P/D configuration {@code --pd} runs without {@code --config-file}: a resource beside this class. */
  static final String PD_CONFIG = "pd.yaml";
  /** Where {@link #PD_CONFIG} is in the source tree, as the banner and messages name it. */
  static final String PD_CONFIG_SOURCE = "examples/configs/pd.yaml";
  /** The precise prefix-cache configuration {@code --precise} runs: a resource beside this class. */
  static final String PRECISE_CONFIG = "precise-prefix.yaml";
  /** Where {@link #PRECISE_CONFIG} is in the source tree. */
  static final String PRECISE_CONFIG_SOURCE = "examples/configs/precise-prefix.yaml";
  /** The render address in {@link #PRECISE_CONFIG}, replaced by the first pod's. */
  private static final String PRECISE_RENDER_URL = "http://127.0.0.1:8001";
  /** A prompt of 102 bytes (25 tokens as the EPP estimates them), long enough for {@link #PD_CONFIG}'s decider to prefill it on a prefill pod. */
  static final String PD_PROMPT =
      "Explain prefill/decode disaggregation: why run the prompt pass and token generation on different pods?";

  /** The ports in use once started. */
  record Ports(int gateway, int grpc, int grpcHealth, int metrics) {}

  private final PrintStream out;
  private final PrintStream err;

  private final Cli flags = new Cli("java -jar epp-examples.jar demo [flags]", DESCRIPTION);
  private final Cli.Flag<Integer> gatewayPort = flags.integer("gateway-port", Gateway.DEFAULT_PORT, 0, 65535,
      "the gateway's port (loopback)");
  private final Cli.Flag<Integer> grpcPort = flags.integer("grpc-port", EppServer.DEFAULT_GRPC_PORT, 0, 65535,
      "the EPP's ext_proc gRPC port (plaintext)");
  private final Cli.Flag<Integer> healthPort = flags.integer("grpc-health-port", EppServer.DEFAULT_HEALTH_PORT,
      0, 65535, "the EPP's gRPC health port");
  private final Cli.Flag<Integer> metricsPort = flags.integer("metrics-port", MetricsExporter.DEFAULT_PORT,
      0, 65535, "the EPP's Prometheus /metrics port");
  private final Cli.Flag<Integer> firstPodPort = flags.integer("first-pod-port", 8001, 0, 65535,
      "pod i listens on this port + i (loopback); 0: free ports");
  private final Cli.Flag<Integer> replicas = flags.integer("replicas", 3, 0, 1024, "pods at start");
  private final Cli.Flag<Boolean> kvEvents = flags.bool("kv-events", true,
      "pods publish their KV-cache events over ZeroMQ as vLLM does (--kv-events=false: not)");
  private final Cli.Flag<Integer> kvEventsPort = flags.integer("kv-events-port", 5557, 0, 65535,
      "pod i publishes its KV events on 127.0.0.1, this port + i; 0: free ports");
  private final Cli.Flag<Boolean> disaggregated = flags.bool("pd", false,
      "prefill/decode disaggregation: even pods prefill, odd pods decode (label llm-d.ai/role), 4 pods unless "
          + "--replicas; the EPP runs examples/configs/pd.yaml (decode pod first, then a prefill pod for prompts of "
          + "16+ uncached tokens) unless --config-file, which must then have a disagg-profile-handler");
  private final Cli.Flag<Boolean> precise = flags.bool("precise", false,
      "precise prefix-cache routing: the EPP runs examples/configs/precise-prefix.yaml (llm-d's sample), indexing "
          + "the pods' KV-cache events and tokenizing prompts with the first pod's /render; needs --kv-events");
  private final Cli.Flag<Integer> maxReplicas = flags.integer("max-replicas", 8, 1, 1024,
      "the most pods /demo/replicas starts");
  private final Cli.Flag<String> poolName = flags.string("pool-name", "demo-pool",
      "the pool's name, the name label of the inference_pool_* metrics");
  private final Cli.Flag<Duration> refreshPrometheus = flags.duration("refresh-prometheus-metrics-interval", "1s",
      "time between refreshes of the inference_pool_* gauges");
  private final Cli.Flag<Integer> maxBodyBytes = flags.integer("max-request-body-bytes",
      ExtProcService.DEFAULT_MAX_REQUEST_BODY_BYTES, 1, Integer.MAX_VALUE - 1,
      "largest request body the gateway and the EPP accept; larger ones get 413");
  private final Cli.Flag<Path> configFile = flags.path("config-file",
      "EndpointPickerConfig YAML file for the EPP, e.g. examples/configs/optimized-baseline.yaml; without it the "
          + "default configuration, or examples/configs/pd.yaml with --pd");
  private final Cli.Flag<Boolean> allowExperimental = flags.bool("allow-experimental-plugins", false,
      "allow plugin types of llm-d's Alpha stability level in the configuration");
  private final UpstreamTimeouts upstreamTimeouts = new UpstreamTimeouts(flags);

  /**
   * @param out where {@code --help} and what to try go
   * @param err where command-line and start errors go, one line each
   */
  DemoCommand(PrintStream out, PrintStream err) {
    this.out = out;
    this.err = err;
  }

  @Override
  int serve(String[] args) {
    try {
      if (!flags.parse(args)) {
        flags.printHelp(out);
        return 0;
      }
      if (startReplicas() > maxReplicas.get()) {
        throw new Cli.UsageException("--replicas " + startReplicas() + " exceeds --max-replicas "
            + maxReplicas.get());
      }
      if (firstPodPort.get() > 0 && firstPodPort.get() + maxReplicas.get() - 1 > 65535) {
        throw new Cli.UsageException("--first-pod-port " + firstPodPort.get() + " leaves no room for "
            + maxReplicas.get() + " pods");
      }
      if (precise.get() && (disaggregated.get() || configFile.isSet() || !kvEvents.get()
          || startReplicas() == 0)) {
        throw new Cli.UsageException("--precise runs its own configuration over the pods' KV events: it needs"
            + " --kv-events and at least one replica, and excludes --pd and --config-file");
      }
      if (kvEvents.get() && kvEventsPort.get() > 0 && kvEventsPort.get() + maxReplicas.get() - 1 > 65535) {
        throw new Cli.UsageException("--kv-events-port " + kvEventsPort.get() + " leaves no room for "
            + maxReplicas.get() + " pods");
      }
    } catch (Cli.UsageException e) {
      err.println("demo: " + e.getMessage() + " (see --help)");
      return 2;
    }
    InetAddress loopback = InetAddress.getLoopbackAddress();
    try {
      StartCheck.portsFree(null, List.of(grpcPort, healthPort, metricsPort));
      StartCheck.portsFree(loopback, List.of(gatewayPort));
      StartCheck.readableFile(configFile);
    } catch (StartCheck.Failure e) {
      err.println("demo: " + e.getMessage());
      return 1;
    }
    EndpointPickerConfig config;
    try {
      EndpointPickerConfig.Loader loader = EndpointPickerConfig.loader().metrics(EppMetrics.create())
          .allowExperimentalPlugins(allowExperimental.get());
      config = configFile.isSet() ? loader.load(configFile.get())
          : disaggregated.get() ? loader.parse(resource(PD_CONFIG), PD_CONFIG_SOURCE)
          : precise.get() ? null // once the first pod's port is known
          : loader.defaults();
    } catch (ConfigException e) {
      err.println("demo: invalid configuration: " + ServerCommand.oneLine(e.getMessage()));
      return 1;
    }
    if (disaggregated.get() && !(config.profileHandler() instanceof DisaggProfileHandler)) {
      err.println("demo: --pd needs a configuration with a disagg-profile-handler; " + configFile.get()
          + " has none (" + PD_CONFIG_SOURCE + " is one)");
      return 1;
    }
    Path endpointsFile;
    try {
      endpointsFile = Files.createTempFile("epp-demo-endpoints-", ".txt");
    } catch (IOException e) {
      err.println("demo: cannot create the endpoints file: " + e.getMessage());
      return 1;
    }
    SimulatedPods pods = new SimulatedPods(endpointsFile, firstPodPort.get(), maxReplicas.get(),
        disaggregated.get(), kvEvents.get() ? kvEventsPort.get() : -1);
    EppServer epp = null;
    Gateway gateway = null;
    try {
      pods.scale(startReplicas());
      if (precise.get()) {
        config = EndpointPickerConfig.loader().metrics(EppMetrics.create())
            .allowExperimentalPlugins(allowExperimental.get())
            .parse(resource(PRECISE_CONFIG).replace(PRECISE_RENDER_URL,
                "http://" + pods.pods().get(0).hostPort()), PRECISE_CONFIG_SOURCE);
      }
      epp = EppServer.builder(config, new FileDiscovery(endpointsFile))
          .poolName(poolName.get())
          .grpcPort(grpcPort.get())
          .healthPort(healthPort.get())
          .metricsPort(metricsPort.get())
          .secureServing(false)
          .refreshPrometheusMetricsInterval(refreshPrometheus.get())
          .maxRequestBodyBytes(maxBodyBytes.get())
          .build()
          .start();
      try {
        EndpointPicker picker = EndpointPicker.extProc(loopback.getHostAddress() + ":" + epp.grpcPort(), false,
            GatewayCommand.EPP_MESSAGE_TIMEOUT);
        gateway = upstreamTimeouts.apply(Gateway.builder(picker))
            .address(new InetSocketAddress(loopback, gatewayPort.get()))
            .maxRequestBodyBytes(maxBodyBytes.get())
            .handler(PATH, http -> serveReplicas(http, pods))
            .start();
      } catch (IOException e) {
        throw new IOException("cannot listen for the gateway on port " + gatewayPort.get() + ": " + e.getMessage(), e);
      }
      Ports ports = new Ports(gateway.port(), epp.grpcPort(), epp.healthPort(), epp.metricsPort());
      printWhatToTry(ports, endpointsFile, pods);
      awaitStop(ports);
      return 0;
    } catch (IOException | EppServer.StartException | ConfigException e) {
      err.println("demo: cannot start: " + ServerCommand.oneLine(e.getMessage()));
      return 1;
    } finally {
      if (gateway != null) {
        gateway.close();
      }
      if (epp != null) {
        epp.close();
      }
      try {
        pods.close();
      } catch (IOException e) {
        err.println("demo: cannot delete " + endpointsFile + ": " + e.getMessage());
      }
    }
  }

  /** The text of a configuration packaged beside this class from {@code examples/configs}. */
  private static String resource(String name) {
    try (InputStream in = DemoCommand.class.getResourceAsStream(name)) {
      if (in == null) {
        throw new IllegalStateException("no resource " + name + " beside " + DemoCommand.class.getName());
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** {@code --replicas}, or 4 pods (two prefill, two decode) with {@code --pd}. */
  private int startReplicas() {
    return disaggregated.get() && !replicas.isSet() ? 4 : replicas.get();
  }

  /** {@code /demo/replicas}: {@code GET} lists the pods, {@code POST ?count=N} scales them. */
  private static void serveReplicas(HttpExchange http, SimulatedPods pods) throws IOException {
    String path = http.getRequestURI().getRawPath();
    if (!path.equals(PATH + "replicas")) {
      Gateway.error(http, 404, "not_found", "no route for " + path + "; the demo serves " + PATH + "replicas");
      return;
    }
    String method = http.getRequestMethod();
    if (method.equals("POST")) {
      String query = http.getRequestURI().getRawQuery();
      Matcher count = COUNT.matcher(query == null ? "" : query);
      String n = count.find() ? count.group(1) : "";
      try {
        pods.scale(Integer.parseInt(n));
      } catch (IllegalArgumentException e) { // a malformed number too
        Gateway.error(http, 400, "invalid_request",
            "expected ?count=N with N in 0.." + pods.maxReplicas() + ", got '" + n + "'");
        return;
      } catch (IOException e) {
        Gateway.error(http, 500, "scale_failed", e.getMessage());
        return;
      }
    } else if (!method.equals("GET")) {
      http.getResponseHeaders().set("allow", "GET, POST");
      Gateway.error(http, 405, "method_not_allowed", "use GET to list the pods or POST ?count=N to scale them");
      return;
    }
    List<SimulatedPods.Pod> running = pods.pods();
    ObjectNode body = JSON.createObjectNode().put("replicas", running.size());
    ArrayNode list = body.putArray("pods");
    running.forEach(pod -> list.addObject().put("name", pod.name()).put("endpoint", pod.hostPort()));
    byte[] json = JSON.writeValueAsBytes(body);
    http.getResponseHeaders().set("content-type", "application/json");
    http.sendResponseHeaders(200, json.length);
    http.getResponseBody().write(json);
    http.close();
  }

  private void printWhatToTry(Ports ports, Path endpointsFile, SimulatedPods pods) {
    List<SimulatedPods.Pod> running = pods.pods();
    String model = SimulatedPods.model();
    String gw = "localhost:" + ports.gateway();
    String metrics = "localhost:" + ports.metrics();
    out.println("demo running:");
    out.println("  " + running.size() + " simulated vLLM pods serving " + model + ": "
        + String.join(", ", running.stream().map(p -> p.name() + " " + p.hostPort()).toList()));
    out.println("    listed in " + endpointsFile + " (watched by the EPP)");
    if (kvEvents.get()) {
      out.println("    KV events (ZeroMQ, topic kv@<pod>@" + model + "): " + String.join(", ",
          running.stream().map(p -> p.name() + " tcp://127.0.0.1:" + p.kvEventsPort()).toList()));
    }
    if (disaggregated.get()) {
      out.println("    prefill/decode disaggregation: even pods prefill, odd pods decode (label llm-d.ai/role)");
    }
    out.println("  EPP pool " + poolName.get() + ": ext_proc :" + ports.grpc() + " (plaintext), gRPC health :"
        + ports.grpcHealth() + ", metrics :" + ports.metrics() + " (pool gauges refreshed every "
        + refreshPrometheus.get().toMillis() + " ms), configuration "
        + (configFile.isSet() ? configFile.get() : disaggregated.get() ? PD_CONFIG_SOURCE
            : precise.get() ? PRECISE_CONFIG_SOURCE : "default"));
    out.println("  gateway :" + ports.gateway() + " routing /v1/* through the EPP; " + PATH
        + "replicas scales the pods");
    out.println();
    out.println("try:");
    out.println("  curl -s " + metrics + "/metrics | grep '^inference_'");
    out.println("  curl -si " + gw + "/v1/completions -H 'content-type: application/json' \\");
    out.println("    -d '{\"model\":\"" + model + "\",\"prompt\":\"Hello\",\"max_tokens\":8}'");
    out.println("  curl -sN " + gw + "/v1/chat/completions -H 'content-type: application/json' \\");
    out.println("    -d '{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}],"
        + "\"max_tokens\":8,\"stream\":true}'");
    if (disaggregated.get()) {
      out.println("  curl -si " + gw + "/v1/completions -H 'content-type: application/json' \\");
      out.println("    -d '{\"model\":\"" + model + "\",\"prompt\":\"" + PD_PROMPT + "\",\"max_tokens\":8}'"
          + "   # prefilled by a prefill pod; sent again: decode only");
    }
    if (disaggregated.get() && running.size() >= 2) {
      out.println("  curl -si " + running.get(1).hostPort() + "/v1/completions -H 'x-prefiller-host-port: "
          + running.get(0).hostPort() + "' \\");
      out.println("    -d '{\"model\":\"" + model + "\",\"prompt\":\"Hello\",\"max_tokens\":8}'"
          + "   # x-simulator-prefilled-by, -decoded-by");
    }
    out.println("  curl -s -X POST '" + gw + PATH + "replicas?count=1'   # then count=" + running.size()
        + "; up to " + pods.maxReplicas());
    out.println("  while true; do curl -s " + metrics + "/metrics | grep '^inference_pool_'; sleep 1; done");
    out.println("  for i in $(seq 64); do curl -s -o /dev/null " + gw + "/v1/completions \\");
    out.println("    -d '{\"model\":\"" + model + "\",\"prompt\":\"Hello\",\"max_tokens\":200}' & done; wait");
    out.println("Ctrl-C stops the demo.");
  }
}
