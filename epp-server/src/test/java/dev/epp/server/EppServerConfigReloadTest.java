package dev.epp.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Value;
import dev.epp.api.Endpoint;
import dev.epp.api.Plugin;
import dev.epp.discovery.StaticDiscovery;
import dev.epp.metrics.export.EppMetrics;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.scheduler.plugins.prefix.ApproxPrefixCacheProducer;
import dev.epp.server.EppServerTest.ModelServer;
import dev.epp.testkit.LogCapture;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingResponse;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link EppServer.Builder#watchConfigFile}: the configuration file rewritten while real ext_proc streams route. */
class EppServerConfigReloadTest {

  private static final Duration DEADLINE = Duration.ofSeconds(30);
  /** Routes to the endpoint with the shortest queue. */
  private static final String BY_QUEUE = profile("queue-a", "queue-scorer", 1);
  /** Routes to the endpoint with the least KV-cache use. */
  private static final String BY_KV_CACHE = profile("kv-b", "kv-cache-utilization-scorer", 1);

  @TempDir Path dir;
  private final List<AutoCloseable> resources = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = resources.size() - 1; i >= 0; i--) {
      resources.get(i).close();
    }
  }

  private static String profile(String name, String type, int weight) {
    return """
        apiVersion: llm-d.ai/v1alpha1
        kind: EndpointPickerConfig
        plugins:
        - name: %s
          type: %s
        schedulingProfiles:
        - name: default
          plugins:
          - pluginRef: %s
            weight: %d
        """.formatted(name, type, name, weight);
  }

  private static String prefixConfig(int weight) {
    return prefixConfig(weight, 31_250);
  }

  private static String prefixConfig(int weight, int lruCapacity) {
    return """
        apiVersion: llm-d.ai/v1alpha1
        kind: EndpointPickerConfig
        plugins:
        - type: approx-prefix-cache-producer
          parameters:
            lruCapacityPerServer: %d
        - type: prefix-cache-scorer
        schedulingProfiles:
        - name: default
          plugins:
          - pluginRef: prefix-cache-scorer
            weight: %d
        """.formatted(lruCapacity, weight);
  }

  @Test
  void reloadsUnderLoadWithEveryRequestAnsweredAndEachDecisionByOneConfiguration() throws Exception {
    ModelServer longQueue = modelServer(12, 0.05);
    ModelServer fullCache = modelServer(0, 0.9);
    Path file = dir.resolve("config.yaml");
    write(file, BY_QUEUE);
    EppServer server = start(file, false, longQueue, fullCache);
    ManagedChannel channel = channel(server);
    String byQueue = "127.0.0.1:" + fullCache.port();
    String byKvCache = "127.0.0.1:" + longQueue.port();
    await(() -> byQueue.equals(route(channel)), "routing by queue once both servers are scraped");

    AtomicBoolean stop = new AtomicBoolean();
    AtomicInteger sent = new AtomicInteger();
    Queue<String> answers = new ConcurrentLinkedQueue<>();
    Queue<Throwable> failures = new ConcurrentLinkedQueue<>();
    ExecutorService clients = Executors.newFixedThreadPool(8);
    for (int i = 0; i < 8; i++) {
      clients.execute(() -> {
        while (!stop.get()) {
          sent.incrementAndGet();
          try {
            answers.add(EppServerTest.route(channel, "Hello"));
          } catch (Throwable t) {
            failures.add(t);
          }
        }
      });
    }
    for (int reload = 1; reload <= 4; reload++) {
      boolean toKvCache = reload % 2 == 1;
      write(file, toKvCache ? BY_KV_CACHE : BY_QUEUE);
      int applied = reload;
      await(() -> reloads(server, "success") == applied, "reload " + reload);
      String expected = toKvCache ? byKvCache : byQueue;
      await(() -> expected.equals(route(channel)), "routing after reload " + reload);
    }
    stop.set(true);
    clients.shutdown();
    assertTrue(clients.awaitTermination(DEADLINE.toSeconds(), TimeUnit.SECONDS));

    assertEquals(List.of(), List.copyOf(failures));
    assertEquals(sent.get(), answers.size(), "every request was answered");
    assertTrue(answers.contains(byQueue) && answers.contains(byKvCache), "both configurations routed");
    assertTrue(answers.stream().allMatch(a -> a.equals(byQueue) || a.equals(byKvCache)));
    String decisions = EppServerTest.httpGet(server.metricsPort(), "/debug/decisions");
    String[] perDecision = decisions.split("\"requestId\"");
    assertTrue(perDecision.length > 1, decisions);
    for (int i = 1; i < perDecision.length; i++) {
      String decision = perDecision[i];
      assertFalse(decision.contains("\"queue-a\"") && decision.contains("\"kv-b\""), decision);
    }
    assertEquals(0.0, reloads(server, "failure"));
  }

  @Test
  void aWeightChangeKeepsThePrefixProducerAndWhatItIndexed() throws Exception {
    ModelServer first = modelServer(0, 0.1);
    ModelServer second = modelServer(0, 0.1);
    Path file = dir.resolve("config.yaml");
    write(file, prefixConfig(1));
    EppServer server = start(file, true, first, second);
    ManagedChannel channel = channel(server);
    String prompt = "You are a careful assistant. ".repeat(40);
    await(() -> EppServerTest.metricsPage(server.metricsPort())
        .contains("inference_pool_ready_pods{name=\"default-pool\"} 2"), "both servers scraped");
    String holder = destination(EppServerTest.headersResponse(channel, prompt));
    EndpointPickerConfig before = server.config();
    Plugin producer = before.plugin(ApproxPrefixCacheProducer.TYPE).orElseThrow();

    write(file, prefixConfig(3));
    await(() -> server.config() != before, "the reload");

    assertSame(producer, server.config().plugin(ApproxPrefixCacheProducer.TYPE).orElseThrow());
    assertEquals(3.0, server.config().profiles().get(0).scorers().get(0).weight());
    long indexed = ((ApproxPrefixCacheProducer) producer).indexSize();
    assertTrue(indexed > 0);
    assertEquals(List.of("inference_extension_prefix_indexer_size " + indexed),
        EppServerTest.metricsPage(server.metricsPort()).lines()
            .filter(l -> l.startsWith("inference_extension_prefix_indexer_size")).toList(),
        "the kept producer's index is reported once");
    ProcessingResponse again = EppServerTest.headersResponse(channel, prompt);
    assertEquals(holder, destination(again));
    Map<String, Value> scores = scores(again);
    String other = scores.keySet().stream().filter(k -> !k.equals(holder)).findFirst().orElseThrow();
    assertTrue(scores.get(holder).getNumberValue() > 1.0, "weight 3 times a prefix match: " + scores);
    assertEquals(0.0, scores.get(other).getNumberValue(), scores.toString());
  }

  @Test
  void aReplacedProducerIsClosedOnceItsStreamsEndedAndItsIndexNoLongerReported() throws Exception {
    ModelServer first = modelServer(0, 0.1);
    ModelServer second = modelServer(0, 0.1);
    Path file = dir.resolve("config.yaml");
    write(file, prefixConfig(1));
    EppServer server = start(file, false, first, second);
    ManagedChannel channel = channel(server);
    await(() -> EppServerTest.metricsPage(server.metricsPort())
        .contains("inference_pool_ready_pods{name=\"default-pool\"} 2"), "both servers scraped");
    EppServerTest.route(channel, "You are a careful assistant. ".repeat(40));
    await(() -> indexSize(server) > 0, "the prompt indexed");
    Plugin producer = server.config().plugin(ApproxPrefixCacheProducer.TYPE).orElseThrow();

    write(file, prefixConfig(1, 1000));
    await(() -> reloads(server, "success") == 1, "the reload");
    assertNotSame(producer, server.config().plugin(ApproxPrefixCacheProducer.TYPE).orElseThrow());
    await(() -> indexSize(server) == 0, "the new producer's empty index reported alone");
  }

  @Test
  void aFileThatDoesNotLoadChangesNothingCountsAFailureAndLogsWhere() throws Exception {
    ModelServer longQueue = modelServer(12, 0.05);
    ModelServer fullCache = modelServer(0, 0.9);
    Path file = dir.resolve("config.yaml");
    write(file, BY_QUEUE);
    EppServer server = start(file, false, longQueue, fullCache);
    ManagedChannel channel = channel(server);
    String byQueue = "127.0.0.1:" + fullCache.port();
    await(() -> byQueue.equals(route(channel)), "routing by queue");
    EndpointPickerConfig running = server.config();

    try (LogCapture log = new LogCapture()) {
      write(file, BY_KV_CACHE.replace("schedulingProfiles:", "schedulingProfiles: [\n"));
      await(() -> reloads(server, "failure") == 1, "the syntax error counted");
      write(file, BY_KV_CACHE.replace("kv-cache-utilization-scorer", "no-such-scorer"));
      await(() -> reloads(server, "failure") == 2, "the unknown type counted");
      write(file, BY_KV_CACHE.replace("kind: EndpointPickerConfig",
          "kind: EndpointPickerConfig\nfeatureGates: [flowControl]"));
      await(() -> reloads(server, "failure") == 3, "the feature gate change counted");

      List<String> warnings = log.lines("WARN", "Configuration reload refused");
      assertEquals(3, warnings.size(), warnings.toString());
      assertTrue(warnings.get(0).matches(".*" + file + ":\\d+.*"), warnings.get(0));
      assertTrue(warnings.get(1).matches(".*" + file + ":\\d+.*no-such-scorer.*"), warnings.get(1));
      assertTrue(warnings.get(2).contains("the feature gates") && warnings.get(2).contains("restart"),
          warnings.get(2));
      assertSame(running, server.config());
      assertEquals(byQueue, route(channel));
      assertEquals(0.0, reloads(server, "success"));

      write(file, BY_KV_CACHE);
      await(() -> reloads(server, "success") == 1, "the good file applied");
      assertEquals("127.0.0.1:" + longQueue.port(), route(channel));
      assertEquals(1, log.lines("INFO", "Configuration reloaded from " + file).size());
      assertTrue(log.lines("INFO", "Configuration reloaded").get(0).contains("added [kv-b"),
          log.lines("INFO", "Configuration reloaded").toString());
    }
  }

  @Test
  void aConfigMapSymlinkSwapIsApplied() throws Exception {
    ModelServer longQueue = modelServer(12, 0.05);
    ModelServer fullCache = modelServer(0, 0.9);
    Path volume = Files.createDirectory(dir.resolve("volume"));
    Path first = Files.createDirectory(volume.resolve("..2026_12_04_01"));
    write(first.resolve("config.yaml"), BY_QUEUE);
    Files.createSymbolicLink(volume.resolve("..data"), first.getFileName());
    Path file = Files.createSymbolicLink(volume.resolve("config.yaml"), Path.of("..data", "config.yaml"));
    EppServer server = start(file, false, longQueue, fullCache);
    ManagedChannel channel = channel(server);
    await(() -> ("127.0.0.1:" + fullCache.port()).equals(route(channel)), "routing by queue");

    Path second = Files.createDirectory(volume.resolve("..2026_12_04_02"));
    write(second.resolve("config.yaml"), BY_KV_CACHE);
    Path link = Files.createSymbolicLink(volume.resolve("..data_tmp"), second.getFileName());
    Files.move(link, volume.resolve("..data"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);

    await(() -> reloads(server, "success") == 1, "the swapped file applied");
    assertEquals("127.0.0.1:" + longQueue.port(), route(channel));
  }

  // ---- helpers --------------------------------------------------------------------------------------------------

  private EppServer start(Path file, boolean emitScores, ModelServer... servers) {
    EndpointPickerConfig.Loader loader = EndpointPickerConfig.loader().metrics(EppMetrics.create());
    List<Endpoint> endpoints = new ArrayList<>();
    for (int i = 0; i < servers.length; i++) {
      endpoints.add(Endpoint.of("pod-" + i + "-rank-0", "127.0.0.1", servers[i].port()));
    }
    EppServer server = EppServer.builder(loader.load(file), new StaticDiscovery(endpoints))
        .secureServing(false).grpcPort(0).healthPort(0).metricsPort(0)
        .drainTimeout(Duration.ofSeconds(5))
        .emitEndpointScores(emitScores)
        .watchConfigFile(file, loader)
        .build();
    resources.add(server);
    return server.start();
  }

  /** Writes {@code text} to a new file moved over {@code file}, as editors and tools replace a file. */
  private static void write(Path file, String text) throws Exception {
    Path next = Files.createTempFile(file.toAbsolutePath().getParent(), "next", ".yaml");
    Files.writeString(next, text);
    Files.move(next, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  private ModelServer modelServer(int waiting, double kvUsage) throws Exception {
    ModelServer server = new ModelServer(waiting, kvUsage);
    resources.add(server);
    return server;
  }

  private ManagedChannel channel(EppServer server) {
    ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort()).usePlaintext().build();
    resources.add(() -> {
      channel.shutdownNow();
      channel.awaitTermination(5, TimeUnit.SECONDS);
    });
    return channel;
  }

  private static String route(ManagedChannel channel) {
    try {
      return EppServerTest.route(channel, "Hello");
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  private static String destination(ProcessingResponse response) {
    return envoyLb(response).get("x-gateway-destination-endpoint").getStringValue();
  }

  private static Map<String, Value> scores(ProcessingResponse response) {
    return envoyLb(response).get("x-gateway-destination-endpoint-scores").getStructValue().getFieldsMap();
  }

  private static Map<String, Value> envoyLb(ProcessingResponse response) {
    return response.getDynamicMetadata().getFieldsOrThrow("envoy.lb").getStructValue().getFieldsMap();
  }

  /** {@code llm_d_epp_config_reloads_total{result=...}} on the metrics page; 0 while absent. */
  private static double reloads(EppServer server, String result) {
    String prefix = "llm_d_epp_config_reloads_total{result=\"" + result + "\"} ";
    return EppServerTest.metricsPage(server.metricsPort()).lines().filter(l -> l.startsWith(prefix))
        .mapToDouble(l -> Double.parseDouble(l.substring(prefix.length()))).sum();
  }

  private static long indexSize(EppServer server) {
    String prefix = "inference_extension_prefix_indexer_size ";
    return EppServerTest.metricsPage(server.metricsPort()).lines().filter(l -> l.startsWith(prefix))
        .mapToLong(l -> (long) Double.parseDouble(l.substring(prefix.length()))).sum();
  }

  private static void await(BooleanSupplier condition, String what) {
    Awaitility.await("the " + what).atMost(DEADLINE).pollInterval(Duration.ofMillis(20))
        .ignoreExceptions().until(condition::getAsBoolean);
  }
}
