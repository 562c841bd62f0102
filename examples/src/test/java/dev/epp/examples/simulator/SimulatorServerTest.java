package dev.epp.examples.simulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.metrics.scrape.MetricsScraper;
import dev.epp.scheduler.EndpointPool;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The simulator over real HTTP on loopback. */
class SimulatorServerTest {

  private static final String MODEL = "sim-model";

  private final HttpClient client = HttpClient.newHttpClient();
  private SimulatorServer server;

  @AfterEach
  void close() {
    if (server != null) {
      server.close();
    }
  }

  private void start(int maxNumSeqs, long prefillNanosPerToken, long decodeNanosPerToken, SimulatorServer.TextMode mode)
      throws IOException {
    EngineConfig config = new EngineConfig(MODEL, List.of("lora-a", "lora-b"), 2, maxNumSeqs, 256, 16,
        prefillNanosPerToken, decodeNanosPerToken, 0);
    server = SimulatorServer.start(config, Role.BOTH, "pod-a", mode, 7,
        new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
  }

  private HttpRequest post(String path, String json) {
    return HttpRequest.newBuilder(uri(path)).POST(HttpRequest.BodyPublishers.ofString(json)).build();
  }

  private URI uri(String path) {
    return URI.create("http://127.0.0.1:" + server.port() + path);
  }

  private HttpResponse<String> send(HttpRequest request) throws Exception {
    return client.send(request, HttpResponse.BodyHandlers.ofString());
  }

  private static JsonNode json(HttpResponse<String> response) throws IOException {
    return OpenAiRequest.JSON.readTree(response.body());
  }

  @Test
  void metricsPageIsScrapedIntoTheEngineState() throws Exception {
    start(1, 0, 60_000_000_000L, SimulatorServer.TextMode.RANDOM); // a running request decodes for minutes
    String prompt = "p".repeat(1000); // 250 tokens
    EndpointPool pool = new EndpointPool();
    pool.upsert(Endpoint.of("sim-rank-0", "127.0.0.1", server.port()));
    EndpointMetrics metrics;
    try (MetricsScraper scraper = MetricsScraper.builder(pool).interval(Duration.ofMillis(10)).build()) {
      scraper.start();
      client.sendAsync(post("/v1/completions",
          "{\"model\":\"lora-a\",\"prompt\":\"" + prompt + "\",\"max_tokens\":6}"),
          HttpResponse.BodyHandlers.discarding());
      awaitMetrics(pool, m -> m.runningRequests() == 1);
      client.sendAsync(post("/v1/completions", "{\"model\":\"lora-b\",\"prompt\":\"q\",\"max_tokens\":1}"),
          HttpResponse.BodyHandlers.discarding());
      metrics = awaitMetrics(pool, m -> m.waitingQueueSize() == 1);
    }
    assertEquals(1, metrics.runningRequests());
    assertEquals(1, metrics.waitingQueueSize());
    assertEquals(16 / 256.0, metrics.kvCacheUsage(), 1e-9); // ceil((250 + 6) / 16) blocks of 256
    assertEquals(Set.of("lora-a"), metrics.activeModels());
    assertEquals(Set.of("lora-b"), metrics.waitingModels());
    assertEquals(2, metrics.maxActiveModels());
    assertEquals(16, metrics.cacheBlockSize());
    assertEquals(256, metrics.cacheNumBlocks());
  }

  private static EndpointMetrics awaitMetrics(EndpointPool pool, java.util.function.Predicate<EndpointMetrics> done) {
    return Awaitility.await("metrics reach the expected state").atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(10)).until(() -> pool.snapshot().metrics(0),
            metrics -> metrics.updatedNanos() != EndpointMetrics.NEVER && done.test(metrics));
  }

  @Test
  void metricsPageHasVllmNamesTypesAndHistograms() throws Exception {
    start(4, 0, 0, SimulatorServer.TextMode.RANDOM);
    send(post("/v1/completions", "{\"model\":\"" + MODEL + "\",\"prompt\":\"" + "x".repeat(128) + "\"}"));
    String page = send(HttpRequest.newBuilder(uri("/metrics")).build()).body();
    for (String line : List.of(
        "# TYPE vllm:num_requests_running gauge",
        "# TYPE vllm:kv_cache_usage_perc gauge",
        "# TYPE vllm:prefix_cache_queries_total counter",
        "vllm:prefix_cache_queries_total{engine=\"0\",model_name=\"sim-model\"} 32.0",
        "vllm:cache_config_info{block_size=\"16\",cache_dtype=\"auto\",enable_prefix_caching=\"True\",engine=\"0\","
            + "num_gpu_blocks=\"256\"} 1.0",
        "vllm:lora_requests_info{max_lora=\"2\",running_lora_adapters=\"\",waiting_lora_adapters=\"\"} ",
        "# TYPE vllm:time_to_first_token_seconds histogram",
        "vllm:time_to_first_token_seconds_bucket{engine=\"0\",model_name=\"sim-model\",le=\"+Inf\"} 1.0",
        "vllm:inter_token_latency_seconds_count{engine=\"0\",model_name=\"sim-model\"} 15.0",
        "vllm:request_success_total{engine=\"0\",model_name=\"sim-model\",finished_reason=\"length\"} 1.0")) {
      assertTrue(page.contains(line), () -> "missing '" + line + "' in\n" + page);
    }
  }

  @Test
  void usageCountsFourCharactersPerTokenAndMaxTokensOutput() throws Exception {
    start(4, 0, 0, SimulatorServer.TextMode.RANDOM);
    JsonNode completion = json(send(post("/v1/completions",
        "{\"model\":\"" + MODEL + "\",\"prompt\":\"" + "x".repeat(1001) + "\",\"max_tokens\":7}")));
    assertEquals(251, completion.at("/usage/prompt_tokens").asInt()); // ceil(1001 / 4)
    assertEquals(7, completion.at("/usage/completion_tokens").asInt());
    assertEquals(258, completion.at("/usage/total_tokens").asInt());
    assertEquals(28, completion.at("/choices/0/text").asText().length());
    assertEquals("length", completion.at("/choices/0/finish_reason").asText());

    JsonNode chat = json(send(post("/v1/chat/completions", "{\"model\":\"" + MODEL + "\",\"max_tokens\":3,"
        + "\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"Hi\"}]}")));
    String rendered = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
        + "<|im_start|>assistant\n";
    assertEquals((rendered.length() + 3) / 4, chat.at("/usage/prompt_tokens").asInt());
    assertEquals(3, chat.at("/usage/completion_tokens").asInt());
    assertEquals("assistant", chat.at("/choices/0/message/role").asText());
  }

  @Test
  void aRepeatedPromptHasALowerReportedTtftAndCachedTokens() throws Exception {
    start(4, 250_000, 0, SimulatorServer.TextMode.RANDOM); // 250 us per uncached token
    HttpRequest request = post("/v1/completions",
        "{\"model\":\"" + MODEL + "\",\"prompt\":\"" + "abcd".repeat(1000) + "\",\"max_tokens\":1}");
    HttpResponse<String> cold = send(request);
    HttpResponse<String> warm = send(request);
    double coldTtft = Double.parseDouble(cold.headers().firstValue(SimulatorServer.TTFT_HEADER).orElseThrow());
    double warmTtft = Double.parseDouble(warm.headers().firstValue(SimulatorServer.TTFT_HEADER).orElseThrow());
    assertTrue(coldTtft >= 250, "1,000 uncached tokens take at least 250 ms: " + coldTtft);
    assertTrue(warmTtft < coldTtft, () -> "warm " + warmTtft + " ms, cold " + coldTtft + " ms");
    assertEquals(0, json(cold).at("/usage/prompt_tokens_details/cached_tokens").asInt());
    assertEquals(992, json(warm).at("/usage/prompt_tokens_details/cached_tokens").asInt()); // 62 full blocks of 16 tokens
  }

  @Test
  void streamSendsEveryTokenThenUsageThenDone() throws Exception {
    start(4, 0, 1_000_000, SimulatorServer.TextMode.ECHO);
    String body = send(post("/v1/chat/completions", "{\"model\":\"" + MODEL + "\",\"max_tokens\":5,\"stream\":true,"
        + "\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\""
        + "echo this text back please\"}]}")).body();
    List<String> data = body.lines().filter(l -> l.startsWith("data: ")).map(l -> l.substring(6)).toList();
    assertEquals("data: [DONE]", "data: " + data.get(data.size() - 1));
    assertEquals(5 + 3, data.size(), body); // 5 tokens, the finish chunk, the usage chunk, [DONE]
    StringBuilder text = new StringBuilder();
    for (String chunk : data.subList(0, 5)) {
      text.append(OpenAiRequest.JSON.readTree(chunk).at("/choices/0/delta/content").asText());
    }
    assertEquals("echo this text back ", text.toString());
    assertEquals("assistant", OpenAiRequest.JSON.readTree(data.get(0)).at("/choices/0/delta/role").asText());
    assertEquals("length", OpenAiRequest.JSON.readTree(data.get(5)).at("/choices/0/finish_reason").asText());
    JsonNode usage = OpenAiRequest.JSON.readTree(data.get(6));
    assertEquals(0, usage.path("choices").size());
    assertEquals(5, usage.at("/usage/completion_tokens").asInt());

    String withoutUsage = send(post("/v1/completions", "{\"model\":\"" + MODEL + "\",\"max_tokens\":2,"
        + "\"stream\":true,\"prompt\":\"abcdefgh\"}")).body();
    assertTrue(withoutUsage.endsWith("data: [DONE]\n\n"), withoutUsage);
    assertTrue(!withoutUsage.contains("usage"), withoutUsage);
  }

  @Test
  void modelsHealthAndErrors() throws Exception {
    start(4, 0, 0, SimulatorServer.TextMode.RANDOM);
    JsonNode models = json(send(HttpRequest.newBuilder(uri("/v1/models")).build()));
    assertEquals(List.of(MODEL, "lora-a", "lora-b"),
        models.path("data").findValuesAsText("id"));
    assertEquals(MODEL, models.at("/data/1/parent").asText());
    assertEquals(200, send(HttpRequest.newBuilder(uri("/health")).build()).statusCode());

    HttpResponse<String> unknown = send(post("/v1/completions", "{\"model\":\"nope\",\"prompt\":\"x\"}"));
    assertEquals(404, unknown.statusCode());
    assertEquals("NotFoundError", json(unknown).path("type").asText());
    HttpResponse<String> invalid = send(post("/v1/chat/completions", "{\"model\":\"" + MODEL + "\"}"));
    assertEquals(400, invalid.statusCode());
    assertEquals("'messages' must be a non-empty array", json(invalid).path("message").asText());
    assertEquals(405, send(HttpRequest.newBuilder(uri("/v1/completions")).build()).statusCode());
  }
}
