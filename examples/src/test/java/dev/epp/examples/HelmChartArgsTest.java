package dev.epp.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.epp.examples.gateway.ModelServer;
import dev.epp.kubernetes.Fixtures;
import dev.epp.kubernetes.KubernetesLeaderElection;
import dev.epp.kubernetes.MockApiServer;
import dev.epp.server.EppServer;
import io.grpc.ManagedChannel;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code server} command started as the Helm charts start the Go EPP: GIE v1.5's {@code inferencepool} chart for
 * a vLLM pool renders the argument list and the {@code default-plugins.yaml} below
 * ({@code config/charts/epplib/templates/_deployment.yaml} and {@code _config.yaml}), against a mock API server
 * holding the pool, its pod and (with more than one replica) the election's Lease.
 */
class HelmChartArgsTest {

  private static final long DEADLINE_SECONDS = 30;
  private static final String POOL = "vllm-llama3-8b-instruct";

  /** GIE v1.5's {@code default-plugins.yaml} for a vLLM pool without the latency predictor. */
  private static final String DEFAULT_PLUGINS = """
      apiVersion: inference.networking.x-k8s.io/v1alpha1
      kind: EndpointPickerConfig
      plugins:
      - type: queue-scorer
      - type: kv-cache-utilization-scorer
      - type: prefix-cache-scorer
      - type: metrics-data-source
        parameters:
          scheme: "http"
          path: "/metrics"
          insecureSkipVerify: true
      - type: core-metrics-extractor
      schedulingProfiles:
      - name: default
        plugins:
        - pluginRef: queue-scorer
          weight: 2
        - pluginRef: kv-cache-utilization-scorer
          weight: 2
        - pluginRef: prefix-cache-scorer
          weight: 3
      """;

  @TempDir Path dir;
  private ModelServer model;
  private MockApiServer api;
  private final List<Replica> replicas = new ArrayList<>();

  @BeforeEach
  void startModelServerAndCluster() throws Exception {
    model = new ModelServer("vllm-0");
    api = new MockApiServer();
    api.client.resource(Fixtures.pool(POOL, List.of(model.port()), "app=vllm")).create();
    api.client.resource(Fixtures.pod("vllm-0", "127.0.0.1", true, "app=vllm")).create();
    System.setProperty("kubernetes.master", api.client.getMasterUrl().toString());
    System.setProperty("kubernetes.trust.certificates", "true");
    System.setProperty("kubernetes.auth.tryKubeConfig", "false");
    System.setProperty("kubernetes.auth.tryServiceAccount", "false");
  }

  @AfterEach
  void stopEverything() throws Exception {
    for (Replica replica : replicas) {
      replica.stop();
    }
    for (String property : List.of("kubernetes.master", "kubernetes.trust.certificates",
        "kubernetes.auth.tryKubeConfig", "kubernetes.auth.tryServiceAccount")) {
      System.clearProperty(property);
    }
    api.close();
    model.close();
  }

  /** The chart's arguments for one replica ({@code replicas} > 1 adds the election), with the ports moved to 0. */
  private List<String> chartArgs(int chartReplicas) throws Exception {
    Path config = dir.resolve("default-plugins.yaml");
    Files.writeString(config, DEFAULT_PLUGINS);
    List<String> args = new ArrayList<>(List.of(
        "--pool-name", POOL,
        "--pool-namespace", Fixtures.NS,
        "--pool-group", "inference.networking.k8s.io",
        "--zap-encoder", "json",
        "--config-file", config.toString()));
    if (chartReplicas > 1) {
      args.add("--ha-enable-leader-election");
    }
    args.addAll(List.of("--v", "1", "--tracing=false"));
    // the chart's fixed ports, moved so the test can run beside anything else
    args.addAll(List.of("--grpc-port=0", "--grpc-health-port=0", "--metrics-port=0"));
    return args;
  }

  @Test
  void startsWithTheArgumentsOfGieChartForAVllmPoolAndLogsJsonLines() throws Exception {
    ByteArrayOutputStream logs = new ByteArrayOutputStream();
    PrintStream stderr = System.err;
    System.setErr(new PrintStream(new Tee(stderr, logs), true, StandardCharsets.UTF_8));
    Replica replica;
    try {
      replica = start(chartArgs(1), "epp-0");
      // the chart's probes ask for the service "inference-extension" with one replica
      replica.awaitStatus("inference-extension", ServingStatus.SERVING);
      replica.stop();
    } finally {
      System.setErr(stderr);
    }
    assertEquals("", replica.errors());

    List<String> lines = logs.toString(StandardCharsets.UTF_8).lines().filter(l -> !l.isBlank()).toList();
    ObjectMapper json = new ObjectMapper();
    boolean started = false;
    for (String line : lines) {
      JsonNode event = json.readTree(line); // throws unless every line is one JSON object
      assertTrue(event.isObject(), line);
      for (String key : List.of("level", "ts", "logger", "msg")) {
        assertTrue(event.has(key), key + " in " + line);
      }
      assertFalse(List.of("debug", "trace").contains(event.get("level").asText()), "-v 1 logs no debug: " + line);
      started |= event.get("msg").asText().startsWith("EPP started");
    }
    assertTrue(started, "the start is logged: " + lines);
  }

  @Test
  void withTwoReplicasOneLeadsAndTheOtherTakesOverWithinALeaseDuration() throws Exception {
    Replica first = start(chartArgs(2), "epp-0");
    first.awaitStatus("readiness", ServingStatus.SERVING);
    Replica second = start(chartArgs(2), "epp-1");
    second.awaitStatus("liveness", ServingStatus.SERVING);
    String lease = KubernetesLeaderElection.leaseName(Fixtures.NS, POOL);
    assertEquals("epp-0", api.client.leases().inNamespace(Fixtures.NS).withName(lease).get().getSpec()
        .getHolderIdentity());
    // the follower campaigns (every 2 s) but stays not ready while the leader renews
    Awaitility.await().pollDelay(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(DEADLINE_SECONDS))
        .until(() -> true);
    assertEquals(ServingStatus.NOT_SERVING, second.status("readiness"));
    assertEquals(ServingStatus.SERVING, second.status("liveness"));

    first.stop();
    Awaitility.await("epp-1 takes over").atMost(KubernetesLeaderElection.LEASE_DURATION)
        .pollInterval(Duration.ofMillis(100)).until(() -> second.status("readiness") == ServingStatus.SERVING);
    assertEquals("epp-1", api.client.leases().inNamespace(Fixtures.NS).withName(lease).get().getSpec()
        .getHolderIdentity());
    assertEquals("", first.errors() + second.errors());
  }

  private Replica start(List<String> args, String podName) throws Exception {
    Replica replica = new Replica(args, podName);
    replicas.add(replica);
    return replica;
  }

  /** One {@code server} command running in this process, as one pod of the chart's deployment. */
  private static final class Replica {
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();
    private final ServerCommand command;
    private final CompletableFuture<Integer> exit;
    private final ManagedChannel health;
    private boolean stopped;

    Replica(List<String> args, String podName) throws Exception {
      command = new ServerCommand(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
          new PrintStream(err, true, StandardCharsets.UTF_8), Map.of("POD_NAME", podName));
      exit = CompletableFuture.supplyAsync(() -> command.run(args.toArray(new String[0])));
      EppServer server = command.started().get(DEADLINE_SECONDS, TimeUnit.SECONDS);
      assertNotNull(server, () -> "the command did not start: " + err);
      health = NettyChannelBuilder.forAddress("127.0.0.1", server.healthPort()).usePlaintext().build();
    }

    ServingStatus status(String service) {
      return HealthGrpc.newBlockingStub(health).withDeadlineAfter(5, TimeUnit.SECONDS)
          .check(HealthCheckRequest.newBuilder().setService(service).build()).getStatus();
    }

    void awaitStatus(String service, ServingStatus expected) {
      Awaitility.await(service + " is " + expected).atMost(Duration.ofSeconds(DEADLINE_SECONDS))
          .pollInterval(Duration.ofMillis(50)).until(() -> status(service) == expected);
    }

    String errors() {
      return err.toString(StandardCharsets.UTF_8);
    }

    void stop() throws Exception {
      if (stopped) {
        return;
      }
      stopped = true;
      command.stop();
      assertEquals(0, exit.get(DEADLINE_SECONDS, TimeUnit.SECONDS), () -> "exit code; errors: " + err);
      health.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  /** Writes to two streams. */
  private static final class Tee extends OutputStream {
    private final OutputStream first;
    private final OutputStream second;

    Tee(OutputStream first, OutputStream second) {
      this.first = first;
      this.second = second;
    }

    @Override
    public synchronized void write(int b) throws java.io.IOException {
      first.write(b);
      second.write(b);
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) throws java.io.IOException {
      first.write(b, off, len);
      second.write(b, off, len);
    }
  }
}
