package dev.epp.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README walkthrough of the {@code demo} command, step by step, against the command running in this process on
 * free ports.
 */
class DemoWalkthroughTest {

  private static final String MODEL = "meta-llama/Llama-3.1-8B-Instruct";
  private static final String POOL = "demo-pool";
  private static final int MAX_BODY = 64 * 1024;
  private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(20);
  private static final Duration SCALE_DEADLINE = Duration.ofSeconds(30);
  private static final Pattern VALUE = Pattern.compile("^(\\S+) (\\S+)$");

  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();
  private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private final ObjectMapper json = new ObjectMapper();
  private DemoCommand.Ports ports;

  @Test
  void walkthrough() throws Exception {
    DemoCommand command = new DemoCommand(new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> command.run(new String[] {
        "--gateway-port", "0", "--grpc-port", "0", "--grpc-health-port", "0", "--metrics-port", "0",
        "--first-pod-port", "0", "--kv-events-port", "0", "--max-request-body-bytes", Integer.toString(MAX_BODY)}));
    try {
      ports = command.started().get(20, TimeUnit.SECONDS);
      assertNotNull(ports, err.toString(StandardCharsets.UTF_8));
      String banner = out.toString(StandardCharsets.UTF_8);
      assertTrue(banner.contains("curl -s localhost:" + ports.metrics() + "/metrics | grep '^inference_'"), banner);
      assertTrue(banner.contains("'localhost:" + ports.gateway() + "/demo/replicas?count=1'"), banner);
      assertTrue(Pattern.compile("KV events \\(ZeroMQ, topic kv@<pod>@\\S+\\): vllm-0-rank-0 tcp://127\\.0\\.0\\.1:\\d+, "
          + "vllm-1-rank-0 tcp://127\\.0\\.0\\.1:\\d+, vllm-2-rank-0").matcher(banner).find(), "on by default: " + banner);
      Matcher listed = Pattern.compile("listed in (\\S+)").matcher(banner);
      assertTrue(listed.find(), banner);
      Path endpointsFile = Path.of(listed.group(1));
      assertTrue(Files.exists(endpointsFile));

      metricsAtIdleShowThreeReadyPods();
      completionsAreServedByAPodAndCounted();
      scalingChangesTheReadyPods();
      loadMovesQueuesOrKvCache();
      gatewayErrorsAreClear();

      command.stop();
      assertEquals(0, exit.get(15, TimeUnit.SECONDS));
      assertEquals("", err.toString(StandardCharsets.UTF_8));
      assertFalse(Files.exists(endpointsFile), "endpoints file deleted on exit");
    } finally {
      command.stop();
      exit.get(15, TimeUnit.SECONDS);
    }
  }

  @Test
  void servesThroughTheOptimizedBaselineConfiguration() throws Exception {
    DemoCommand command = new DemoCommand(new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> command.run(new String[] {
        "--gateway-port", "0", "--grpc-port", "0", "--grpc-health-port", "0", "--metrics-port", "0",
        "--first-pod-port", "0", "--kv-events-port", "0", "--config-file", OptimizedBaselineConfigTest.FILE.toString()}));
    try {
      ports = command.started().get(20, TimeUnit.SECONDS);
      assertNotNull(ports, err.toString(StandardCharsets.UTF_8));
      String banner = out.toString(StandardCharsets.UTF_8);
      assertTrue(banner.contains("configuration " + OptimizedBaselineConfigTest.FILE), banner);
      awaitMetrics(m -> m.contains(readyPods(3)));
      List<String> pods = podEndpoints(send(HttpRequest.newBuilder(gateway("/demo/replicas")).GET()));

      // Sequential requests with one long prompt: the pod that served the first holds the prefix and keeps it.
      String prompt = "Summarise the history of prefix caching in inference servers. ".repeat(8);
      List<String> served = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        HttpResponse<String> completion = send(HttpRequest.newBuilder(gateway("/v1/completions"))
            .header("content-type", "application/json")
            .POST(BodyPublishers.ofString("{\"model\":\"" + MODEL + "\",\"prompt\":\"" + prompt
                + "\",\"max_tokens\":4}")));
        assertEquals(200, completion.statusCode(), completion.body());
        served.add(served(completion));
      }
      assertTrue(pods.contains(served.get(0)), served + " in " + pods);
      assertEquals(List.of(served.get(0), served.get(0), served.get(0), served.get(0)), served);

      command.stop();
      assertEquals(0, exit.get(15, TimeUnit.SECONDS));
      assertEquals("", err.toString(StandardCharsets.UTF_8));
    } finally {
      command.stop();
      exit.get(15, TimeUnit.SECONDS);
    }
  }

  @Test
  void pdRunsThePdConfigurationALongPromptIsPrefilledOnAPrefillPodACachedOrShortOneIsDecodeOnly() throws Exception {
    DemoCommand command = new DemoCommand(new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> command.run(new String[] {
        "--gateway-port", "0", "--grpc-port", "0", "--grpc-health-port", "0", "--metrics-port", "0",
        "--first-pod-port", "0", "--kv-events-port", "0", "--pd"}));
    try {
      ports = command.started().get(20, TimeUnit.SECONDS);
      assertNotNull(ports, err.toString(StandardCharsets.UTF_8));
      String banner = out.toString(StandardCharsets.UTF_8);
      assertTrue(banner.contains("configuration examples/configs/pd.yaml"), banner);
      assertTrue(banner.contains("\"prompt\":\"" + DemoCommand.PD_PROMPT + "\""), banner);
      Matcher listed = Pattern.compile("listed in (\\S+)").matcher(banner);
      assertTrue(listed.find(), banner);
      List<String> roles = Files.readAllLines(Path.of(listed.group(1))).stream().filter(l -> !l.startsWith("#"))
          .map(l -> l.replaceAll(".*llm-d.ai/role=(\\S+).*", "$1")).toList();
      assertEquals(List.of("prefill", "decode", "prefill", "decode"), roles);
      awaitMetrics(m -> m.contains(readyPods(4)));
      Map<String, String> endpointByPod = new HashMap<>();
      json.readTree(send(HttpRequest.newBuilder(gateway("/demo/replicas")).GET()).body()).path("pods")
          .forEach(pod -> endpointByPod.put(pod.path("name").asText(), pod.path("endpoint").asText()));
      List<String> prefillPods = List.of("vllm-0-rank-0", "vllm-2-rank-0");
      List<String> decodePods = List.of("vllm-1-rank-0", "vllm-3-rank-0");

      // a long prompt: decoded on a decode pod, which pulled its prefill from a prefill pod
      HttpResponse<String> first = completeThroughTheGateway(DemoCommand.PD_PROMPT);
      String prefilledBy = first.headers().firstValue("x-simulator-prefilled-by").orElse("");
      String decodedBy = first.headers().firstValue("x-simulator-decoded-by").orElse("");
      assertTrue(prefillPods.contains(prefilledBy), prefilledBy);
      assertTrue(decodePods.contains(decodedBy), decodedBy);
      assertEquals(endpointByPod.get(decodedBy), served(first));
      int promptTokens = json.readTree(first.body()).path("usage").path("prompt_tokens").asInt();
      assertTrue(promptTokens >= 16, first.body()); // pd.yaml's nonCachedTokens
      assertEquals(promptTokens, promptTokensBySource(endpointByPod.get(prefilledBy), "local_compute"));
      assertEquals(promptTokens - 1, promptTokensBySource(endpointByPod.get(decodedBy), "external_kv_transfer"));
      assertEquals(1, disaggDecisions("prefill-decode"));

      // the same prompt again: the decode pod holds its prefix, so it is decode-only, on the same pod
      HttpResponse<String> again = completeThroughTheGateway(DemoCommand.PD_PROMPT);
      assertEquals(decodedBy, again.headers().firstValue("x-simulator-prefilled-by").orElse(""));
      assertEquals(decodedBy, again.headers().firstValue("x-simulator-decoded-by").orElse(""));
      assertEquals(1, disaggDecisions("decode-only"));

      // a short prompt: decode-only
      HttpResponse<String> shortPrompt = completeThroughTheGateway("Hello");
      String shortDecodedBy = shortPrompt.headers().firstValue("x-simulator-decoded-by").orElse("");
      assertTrue(decodePods.contains(shortDecodedBy), shortDecodedBy);
      assertEquals(shortDecodedBy, shortPrompt.headers().firstValue("x-simulator-prefilled-by").orElse(""));
      assertEquals(2, disaggDecisions("decode-only"));
      assertEquals(1, disaggDecisions("prefill-decode"));
      assertEquals(promptTokens, promptTokensBySource(endpointByPod.get(prefilledBy), "local_compute"));

      // the banner's request straight to a decode pod, prefilled on the prefill pod it names
      Matcher shown = Pattern.compile("curl -si (\\S+)/v1/completions -H 'x-prefiller-host-port: (\\S+)'")
          .matcher(banner);
      assertTrue(shown.find(), banner);
      HttpResponse<String> response = send(HttpRequest.newBuilder(URI.create("http://" + shown.group(1)
          + "/v1/completions")).header("x-prefiller-host-port", shown.group(2))
          .POST(BodyPublishers.ofString("{\"model\":\"" + MODEL + "\",\"prompt\":\"Hello\",\"max_tokens\":8}")));
      assertEquals(200, response.statusCode(), response.body());
      assertEquals("vllm-0-rank-0", response.headers().firstValue("x-simulator-prefilled-by").orElse(""));
      assertEquals("vllm-1-rank-0", response.headers().firstValue("x-simulator-decoded-by").orElse(""));

      command.stop();
      assertEquals(0, exit.get(15, TimeUnit.SECONDS));
      assertEquals("", err.toString(StandardCharsets.UTF_8));
    } finally {
      command.stop();
      exit.get(15, TimeUnit.SECONDS);
    }
  }

  @Test
  void preciseRoutesByTheTokensAndTheKvEventsOfThePods() throws Exception {
    DemoCommand command = new DemoCommand(new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> command.run(new String[] {
        "--gateway-port", "0", "--grpc-port", "0", "--grpc-health-port", "0", "--metrics-port", "0",
        "--first-pod-port", "0", "--kv-events-port", "0", "--precise"}));
    try {
      ports = command.started().get(20, TimeUnit.SECONDS);
      assertNotNull(ports, err.toString(StandardCharsets.UTF_8));
      assertTrue(out.toString(StandardCharsets.UTF_8).contains("configuration " + DemoCommand.PRECISE_CONFIG_SOURCE));
      awaitMetrics(m -> m.contains(readyPods(3)));

      // The first request is cached by the pod that serves it, which tells the EPP over its KV events; from then on
      // the precise index knows the prompt's blocks are there and the later requests follow them.
      String prompt = "Summarise the history of prefix caching in inference servers. ".repeat(12);
      List<String> served = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        HttpResponse<String> completion = send(HttpRequest.newBuilder(gateway("/v1/completions"))
            .header("content-type", "application/json")
            .POST(BodyPublishers.ofString("{\"model\":\"" + MODEL + "\",\"prompt\":\"" + prompt
                + "\",\"max_tokens\":4}")));
        assertEquals(200, completion.statusCode(), completion.body());
        served.add(served(completion));
        if (i == 0) {
          Awaitility.await("the EPP indexed the first pod's KV events").atMost(SCALE_DEADLINE)
              .pollInterval(Duration.ofMillis(50)).until(() -> eppMetric("llm_d_epp_kv_cache_index_admissions_total")
                  > 0);
        }
      }
      assertEquals(List.of(served.get(0), served.get(0), served.get(0), served.get(0)), served);
      assertTrue(eppMetric("llm_d_epp_kv_cache_index_lookup_hits_total") > 0, "precise matches were found");
      assertEquals(0, eppMetric("llm_d_epp_tokenization_failures_total"), "tokenized by the pod's /render");

      command.stop();
      assertEquals(0, exit.get(15, TimeUnit.SECONDS));
      assertEquals("", err.toString(StandardCharsets.UTF_8));
    } finally {
      command.stop();
      exit.get(15, TimeUnit.SECONDS);
    }
  }

  /** The sum of every sample of {@code family} on the EPP's {@code /metrics}. */
  private double eppMetric(String family) throws Exception {
    String page = send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + ports.metrics() + "/metrics"))
        .GET()).body();
    return page.lines().filter(l -> l.startsWith(family + "{") || l.startsWith(family + " "))
        .mapToDouble(DemoWalkthroughTest::value).sum();
  }

  @Test
  void pdWithAConfigFileWithoutADisaggProfileHandlerExitsWithOneAndOneLine() throws Exception {
    DemoCommand command = new DemoCommand(System.out, new PrintStream(err, true, StandardCharsets.UTF_8));
    CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> command.run(new String[] {
        "--gateway-port", "0", "--grpc-port", "0", "--grpc-health-port", "0", "--metrics-port", "0",
        "--first-pod-port", "0", "--kv-events-port", "0", "--pd", "--config-file", OptimizedBaselineConfigTest.FILE.toString()}));
    try {
      assertEquals(1, exit.get(20, TimeUnit.SECONDS));
    } finally {
      command.stop();
    }
    assertEquals("demo: --pd needs a configuration with a disagg-profile-handler; " + OptimizedBaselineConfigTest.FILE
        + " has none (examples/configs/pd.yaml is one)" + System.lineSeparator(), err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void anUnusableConfigFileExitsWithOneAndOneLine(@TempDir Path dir) throws Exception {
    Path invalid = Files.writeString(dir.resolve("invalid.yaml"), "apiVersion: llm-d.ai/v1alpha1\n"
        + "kind: EndpointPickerConfig\nplugins:\n- type: no-such-plugin\n");
    Map<Path, String> expected = Map.of(
        dir.resolve("missing.yaml"), "demo: --config-file " + dir.resolve("missing.yaml"),
        invalid, "demo: invalid configuration: " + invalid + ":4:3: plugins[0].type: unknown plugin type");
    for (Map.Entry<Path, String> file : expected.entrySet()) {
      err.reset();
      DemoCommand command = new DemoCommand(System.out, new PrintStream(err, true, StandardCharsets.UTF_8));
      assertEquals(1, command.run(new String[] {"--gateway-port", "0", "--grpc-port", "0", "--grpc-health-port",
          "0", "--metrics-port", "0", "--first-pod-port", "0", "--kv-events-port", "0", "--config-file", file.getKey().toString()}));
      List<String> lines = err.toString(StandardCharsets.UTF_8).lines().toList();
      assertEquals(1, lines.size(), lines.toString());
      assertTrue(lines.get(0).startsWith(file.getValue()), lines.get(0));
    }
  }

  @Test
  void experimentalPluginTypesNeedAllowExperimentalPlugins(@TempDir Path dir) throws Exception {
    Path config = Files.writeString(dir.resolve("alpha.yaml"), "apiVersion: llm-d.ai/v1alpha1\n"
        + "kind: EndpointPickerConfig\nplugins:\n- type: session-affinity-filter\n");
    List<String> args = List.of("--gateway-port", "0", "--grpc-port", "0", "--grpc-health-port", "0",
        "--metrics-port", "0", "--first-pod-port", "0", "--kv-events-port", "0", "--config-file", config.toString());
    DemoCommand refused = new DemoCommand(System.out, new PrintStream(err, true, StandardCharsets.UTF_8));
    assertEquals(1, refused.run(args.toArray(String[]::new)));
    assertEquals("demo: invalid configuration: " + config + ":4:3: plugins[0].type: plugin "
        + "'session-affinity-filter' (type session-affinity-filter) is experimental (Alpha); start the EPP with "
        + "--allow-experimental-plugins to use it", err.toString(StandardCharsets.UTF_8).strip());

    err.reset();
    DemoCommand allowed = new DemoCommand(new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    List<String> withFlag = new ArrayList<>(args);
    withFlag.add("--allow-experimental-plugins");
    CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> allowed.run(withFlag.toArray(String[]::new)));
    try {
      assertNotNull(allowed.started().get(20, TimeUnit.SECONDS), err.toString(StandardCharsets.UTF_8));
    } finally {
      allowed.stop();
    }
    assertEquals(0, exit.get(15, TimeUnit.SECONDS));
    assertEquals("", err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void badCommandLinesExitWithTwoAndOneLine() {
    String[][] bad = {{"--replicas", "9"}, {"--first-pod-port", "65530"}, {"--nope"}};
    for (String[] args : bad) {
      err.reset();
      DemoCommand command = new DemoCommand(System.out, new PrintStream(err, true, StandardCharsets.UTF_8));
      assertEquals(2, command.run(args), String.join(" ", args));
      List<String> lines = err.toString(StandardCharsets.UTF_8).lines().toList();
      assertEquals(1, lines.size(), lines.toString());
      assertTrue(lines.get(0).startsWith("demo: "), lines.get(0));
    }
  }

  @Test
  void busyPortExitsWithOneAndOneLine() throws Exception {
    try (ServerSocket busy = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      String port = Integer.toString(busy.getLocalPort());
      for (String flag : List.of("--gateway-port", "--metrics-port", "--first-pod-port")) {
        err.reset();
        List<String> args = new ArrayList<>(List.of("--gateway-port", "0", "--grpc-port", "0",
            "--grpc-health-port", "0", "--metrics-port", "0", "--first-pod-port", "0", "--kv-events-port", "0"));
        args.set(args.indexOf(flag) + 1, port);
        DemoCommand command = new DemoCommand(System.out, new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(1, command.run(args.toArray(String[]::new)), flag);
        List<String> lines = err.toString(StandardCharsets.UTF_8).lines().toList();
        assertEquals(1, lines.size(), lines.toString());
        assertTrue(lines.get(0).startsWith("demo: ") && lines.get(0).contains(port)
            && lines.get(0).endsWith("Address already in use"), lines.get(0));
      }
    }
  }

  /** Step 2: the guide's sample output at idle with three pods. */
  private void metricsAtIdleShowThreeReadyPods() throws Exception {
    List<String> lines = awaitMetrics(m -> m.contains(readyPods(3))
        && m.stream().anyMatch(l -> l.startsWith("inference_pool_average_queue_size{")));
    assertMatches(lines, "inference_extension_info\\{build_ref=\"[^\"]*\",commit=\"[^\"]*\"} 1");
    assertMatches(lines, "inference_extension_prefix_indexer_size 0");
    assertMatches(lines, "inference_pool_average_kv_cache_utilization\\{name=\"" + POOL + "\"} 0");
    assertMatches(lines, "inference_pool_average_queue_size\\{name=\"" + POOL + "\"} 0");
    for (int i = 0; i < 3; i++) {
      assertMatches(lines, "inference_pool_per_pod_queue_size\\{model_server_pod=\"vllm-" + i + "-rank-0\",name=\""
          + POOL + "\"} 0");
    }
    assertEquals(3, lines.stream().filter(l -> l.startsWith("inference_pool_per_pod_queue_size{")).count(),
        lines.toString());
    assertTrue(lines.contains(readyPods(3)), lines.toString());
  }

  /** Step 3: a completion and a streamed chat completion through the gateway, then the objective metrics. */
  private void completionsAreServedByAPodAndCounted() throws Exception {
    List<String> pods = podEndpoints(send(HttpRequest.newBuilder(gateway("/demo/replicas")).GET()));

    HttpResponse<String> completion = send(HttpRequest.newBuilder(gateway("/v1/completions"))
        .header("content-type", "application/json")
        .POST(BodyPublishers.ofString("{\"model\":\"" + MODEL + "\",\"prompt\":\"Hello\",\"max_tokens\":8}")));
    assertEquals(200, completion.statusCode(), completion.body());
    assertTrue(pods.contains(served(completion)), served(completion) + " in " + pods);
    assertEquals("text_completion", json.readTree(completion.body()).path("object").asText(), completion.body());

    HttpResponse<String> chat = send(HttpRequest.newBuilder(gateway("/v1/chat/completions"))
        .header("content-type", "application/json")
        .POST(BodyPublishers.ofString("{\"model\":\"" + MODEL + "\",\"messages\":[{\"role\":\"user\","
            + "\"content\":\"Hello\"}],\"max_tokens\":8,\"stream\":true}")));
    assertEquals(200, chat.statusCode(), chat.body());
    assertTrue(pods.contains(served(chat)), served(chat) + " in " + pods);
    assertTrue(chat.headers().firstValue("content-type").orElse("").startsWith("text/event-stream"));
    assertTrue(chat.body().startsWith("data: {") && chat.body().endsWith("data: [DONE]\n\n"), chat.body());

    List<String> lines =
        awaitMetrics(m -> m.stream().anyMatch(l -> l.startsWith("inference_objective_request_total{")));
    assertMatches(lines, "inference_objective_request_total\\{model_name=\"" + Pattern.quote(MODEL) + "\",.*} 2");
  }

  /** Step 4: scale to 1, then back to 3; the EPP follows through the endpoints file. */
  private void scalingChangesTheReadyPods() throws Exception {
    for (int count : new int[] {1, 3}) {
      HttpResponse<String> scaled = scale(Integer.toString(count));
      assertEquals(200, scaled.statusCode(), scaled.body());
      JsonNode body = json.readTree(scaled.body());
      assertEquals(count, body.path("replicas").asInt(), scaled.body());
      assertEquals(count, podEndpoints(scaled).size(), scaled.body());
      awaitMetrics(m -> m.contains(readyPods(count)));
    }
    for (String bad : new String[] {"9", "-1", "abc", ""}) {
      HttpResponse<String> rejected = scale(bad);
      assertEquals(400, rejected.statusCode(), bad);
      assertTrue(rejected.body().contains("expected ?count=N with N in 0..8"), rejected.body());
    }
  }

  /** Step 5: under a concurrent loop, a per-pod queue or the KV-cache utilisation reads above 0 at some sample. */
  private void loadMovesQueuesOrKvCache() throws Exception {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
    ExecutorService load = Executors.newFixedThreadPool(8);
    List<Future<Integer>> loops = new ArrayList<>();
    try {
      for (int t = 0; t < 8; t++) {
        String prompt = "Load loop " + t + ": tell me about prefix caching.";
        loops.add(load.submit(() -> {
          int ok = 0;
          while (System.nanoTime() < end) {
            HttpResponse<String> r = send(HttpRequest.newBuilder(gateway("/v1/completions")).POST(BodyPublishers
                .ofString("{\"model\":\"" + MODEL + "\",\"prompt\":\"" + prompt + "\",\"max_tokens\":32}")));
            assertEquals(200, r.statusCode(), r.body());
            ok++;
          }
          return ok;
        }));
      }
      double highest = 0;
      while (System.nanoTime() < end) {
        for (String line : metrics()) {
          if (line.startsWith("inference_pool_per_pod_queue_size{")
              || line.startsWith("inference_pool_average_kv_cache_utilization{")) {
            highest = Math.max(highest, value(line));
          }
        }
        Thread.sleep(100); // sampling period, not a wait for a condition
      }
      for (Future<Integer> loop : loops) {
        assertTrue(loop.get(REQUEST_TIMEOUT.toSeconds(), TimeUnit.SECONDS) > 0);
      }
      assertTrue(highest > 0, "no per-pod queue or KV-cache utilisation above 0 under load");
    } finally {
      load.shutdownNow();
    }
  }

  /** Unknown paths, bad JSON and oversized bodies get clear errors from the gateway or the EPP. */
  private void gatewayErrorsAreClear() throws Exception {
    HttpResponse<String> unknown = send(HttpRequest.newBuilder(gateway("/admin")).GET());
    assertEquals(404, unknown.statusCode());
    assertTrue(unknown.body().startsWith("{\"error\":{\"message\":\"no route for /admin"), unknown.body());

    HttpResponse<String> badJson = send(HttpRequest.newBuilder(gateway("/v1/completions"))
        .POST(BodyPublishers.ofString("{not json")));
    assertEquals(400, badJson.statusCode());
    assertTrue(badJson.body().startsWith("inference error: BadRequest - "), badJson.body());

    String big = "{\"model\":\"" + MODEL + "\",\"prompt\":\"" + "x".repeat(MAX_BODY) + "\"}";
    HttpResponse<String> oversized = send(HttpRequest.newBuilder(gateway("/v1/completions"))
        .POST(BodyPublishers.ofString(big)));
    assertEquals(413, oversized.statusCode());
    assertTrue(oversized.body().contains("request body exceeds the limit of " + MAX_BODY + " bytes"),
        oversized.body());
  }

  private HttpResponse<String> scale(String count) throws Exception {
    return send(HttpRequest.newBuilder(gateway("/demo/replicas?count=" + count))
        .POST(BodyPublishers.noBody()));
  }

  private List<String> podEndpoints(HttpResponse<String> replicas) throws IOException {
    assertEquals(200, replicas.statusCode(), replicas.body());
    List<String> endpoints = new ArrayList<>();
    json.readTree(replicas.body()).path("pods").forEach(pod -> endpoints.add(pod.path("endpoint").asText()));
    return endpoints;
  }

  private HttpResponse<String> completeThroughTheGateway(String prompt) throws Exception {
    HttpResponse<String> response = send(HttpRequest.newBuilder(gateway("/v1/completions"))
        .header("content-type", "application/json")
        .POST(BodyPublishers.ofString("{\"model\":\"" + MODEL + "\",\"prompt\":\"" + prompt
            + "\",\"max_tokens\":8}")));
    assertEquals(200, response.statusCode(), response.body());
    return response;
  }

  /** The pod's {@code vllm:prompt_tokens_by_source_total} for {@code source}. */
  private long promptTokensBySource(String pod, String source) throws Exception {
    String page = send(HttpRequest.newBuilder(URI.create("http://" + pod + "/metrics")).GET()).body();
    return Math.round(page.lines().filter(l -> l.startsWith("vllm:prompt_tokens_by_source_total{")
        && l.contains("source=\"" + source + "\"")).mapToDouble(DemoWalkthroughTest::value).sum());
  }

  /** The EPP's {@code llm_d_epp_disagg_decision_total} for {@code decisionType}, 0 before the first. */
  private long disaggDecisions(String decisionType) throws Exception {
    String page = send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + ports.metrics() + "/metrics"))
        .GET()).body();
    return Math.round(page.lines().filter(l -> l.startsWith("llm_d_epp_disagg_decision_total{")
        && l.contains("decision_type=\"" + decisionType + "\"")).mapToDouble(DemoWalkthroughTest::value).sum());
  }

  private static String served(HttpResponse<?> response) {
    return response.headers().firstValue("x-gateway-destination-endpoint-served").orElse("");
  }

  private static String readyPods(int n) {
    return "inference_pool_ready_pods{name=\"" + POOL + "\"} " + n;
  }

  private static void assertMatches(List<String> lines, String regex) {
    assertTrue(lines.stream().anyMatch(l -> l.matches(regex)), regex + " in\n" + String.join("\n", lines));
  }

  private static double value(String line) {
    Matcher m = VALUE.matcher(line);
    assertTrue(m.matches(), line);
    return Double.parseDouble(m.group(2));
  }

  /** The {@code inference_*} lines of {@code /metrics}, as {@code grep '^inference_'} shows them. */
  private List<String> metrics() throws Exception {
    HttpResponse<String> response = send(HttpRequest.newBuilder(
        URI.create("http://127.0.0.1:" + ports.metrics() + "/metrics")).GET());
    assertEquals(200, response.statusCode());
    return response.body().lines().filter(l -> l.startsWith("inference_")).toList();
  }

  /** Polls {@code /metrics} until {@code condition} holds, for up to {@link #SCALE_DEADLINE}. */
  private List<String> awaitMetrics(Predicate<List<String>> condition) {
    return Awaitility.await("metrics reach the expected state").atMost(SCALE_DEADLINE)
        .pollInterval(Duration.ofMillis(100)).until(this::metrics, condition);
  }

  private URI gateway(String pathAndQuery) {
    return URI.create("http://127.0.0.1:" + ports.gateway() + pathAndQuery);
  }

  private HttpResponse<String> send(HttpRequest.Builder request) throws IOException, InterruptedException {
    return client.send(request.timeout(REQUEST_TIMEOUT).build(), BodyHandlers.ofString());
  }
}
