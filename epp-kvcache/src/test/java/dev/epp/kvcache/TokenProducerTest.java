package dev.epp.kvcache;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.epp.api.InferenceRequest;
import dev.epp.api.MetricsRecorder;
import dev.epp.api.Parameters;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestBody;
import dev.epp.api.RequestContext;
import dev.epp.api.Ticker;
import dev.epp.api.TypedName;
import dev.epp.api.requestcontrol.TokenizedPrompt;
import dev.epp.testkit.Fixtures;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The token producer against a real JDK HTTP server on loopback that answers as vLLM's render API. */
class TokenProducerTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  /** What the render server answers next: status and body, after waiting for {@code release} if set. */
  private volatile int status = 200;
  private volatile String answer = "";
  private volatile CountDownLatch release;
  private final List<String> paths = new CopyOnWriteArrayList<>();
  private final List<JsonNode> bodies = new CopyOnWriteArrayList<>();
  private final List<String> failures = new CopyOnWriteArrayList<>();
  private HttpServer server;

  private final MetricsRecorder metrics = new MetricsRecorder() {
    @Override
    public void recordTokenizationFailure(TypedName plugin, String reason) {
      failures.add(plugin.name() + ":" + reason);
    }
  };

  private final PluginHandle handle = new PluginHandle() {
    @Override
    public Ticker ticker() {
      return System::nanoTime;
    }

    @Override
    public MetricsRecorder metrics() {
      return metrics;
    }

    @Override
    public <T> Optional<T> plugin(String name, Class<T> type) {
      return Optional.empty();
    }
  };

  @BeforeEach
  void startServer() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.setExecutor(Executors.newCachedThreadPool());
    server.createContext("/", this::serve);
    server.start();
  }

  @AfterEach
  void stopServer() {
    if (release != null) {
      release.countDown();
    }
    server.stop(0);
  }

  private void serve(HttpExchange exchange) throws IOException {
    try (exchange) {
      paths.add(exchange.getRequestURI().getPath());
      bodies.add(JSON.readTree(exchange.getRequestBody().readAllBytes()));
      CountDownLatch wait = release;
      if (wait != null) {
        try {
          wait.await(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      byte[] body = answer.getBytes(StandardCharsets.UTF_8);
      exchange.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
      exchange.getResponseBody().write(body);
    }
  }

  private String url() {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  private TokenProducer vllm(String timeout, String mmTimeout) {
    return TokenProducer.create(new PluginSpec("tok", TokenProducer.TYPE, Parameters.of(Map.of("modelName", "m",
        "vllm", Map.of("url", url() + "/", "timeout", timeout, "mmTimeout", mmTimeout)))), handle);
  }

  private static RequestContext request(RequestBody body) {
    return new RequestContext(InferenceRequest.builder().requestId("r").model("client-model").body(body).build());
  }

  private static RequestContext completion(String prompt) {
    return request(RequestBody.completion(prompt));
  }

  private static RequestContext chat(String messages) {
    return request(new RequestBody(RequestBody.Api.CHAT_COMPLETIONS, false, "", messages));
  }

  private static void await(TokenProducer producer, RequestContext context) {
    producer.prepareDataAsync(context, Fixtures.candidates()).toCompletableFuture().join();
  }

  @Test
  void estimatePacksUtf8BytesIntoLittleEndianWordsByDefault() {
    TokenProducer producer = TokenProducer.create(new PluginSpec("tok", TokenProducer.TYPE, Parameters.empty()),
        handle);
    RequestContext context = completion("abcde");
    await(producer, context);

    TokenizedPrompt prompt = context.get(TokenizedPrompt.KEY);
    assertArrayEquals(new int[] {0x64636261, 0x65}, prompt.tokenIds());
    assertFalse(prompt.exact());
    RequestContext empty = completion("");
    await(producer, empty);
    assertNull(empty.get(TokenizedPrompt.KEY));
    assertEquals(List.of(), paths, "no server is called");
  }

  @Test
  void completionsPostTheModelAndPromptToTheCompletionsRenderPath() {
    answer = "[{\"token_ids\":[128000, 791, 4294967295],\"model\":\"m\"}]";
    RequestContext context = completion("The capital");
    await(vllm("5s", "30s"), context);

    TokenizedPrompt prompt = context.get(TokenizedPrompt.KEY);
    assertArrayEquals(new int[] {128000, 791, -1}, prompt.tokenIds(), "ids are unsigned 32-bit");
    assertTrue(prompt.exact());
    assertEquals(List.of("/v1/completions/render"), paths);
    assertEquals("{\"model\":\"m\",\"prompt\":\"The capital\"}", bodies.get(0).toString());
    assertEquals(List.of(), failures);
  }

  @Test
  void chatPostsTheMessagesToTheChatRenderPath() {
    answer = "{\"token_ids\":[1,2]}";
    String messages = "[{\"role\":\"user\",\"content\":\"hi\"}]";
    RequestContext context = chat(messages);
    await(vllm("5s", "30s"), context);

    assertArrayEquals(new int[] {1, 2}, context.get(TokenizedPrompt.KEY).tokenIds());
    assertEquals(List.of("/v1/chat/completions/render"), paths);
    assertEquals("{\"model\":\"m\",\"messages\":" + messages + "}", bodies.get(0).toString());
  }

  @Test
  void theStageCompletesOnlyWhenTheServerAnswersSoTheCallerIsNeverBlocked() {
    release = new CountDownLatch(1);
    answer = "[{\"token_ids\":[7]}]";
    RequestContext context = completion("x");
    CompletableFuture<Void> stage = vllm("60s", "60s").prepareDataAsync(context, Fixtures.candidates())
        .toCompletableFuture();

    assertFalse(stage.isDone(), "returned while the server still holds the request");
    release.countDown();
    stage.join();
    assertArrayEquals(new int[] {7}, context.get(TokenizedPrompt.KEY).tokenIds());
  }

  @Test
  void aSlowServerTimesOutAndTheRequestGoesOnWithoutTokens() {
    release = new CountDownLatch(1); // never released before the timeout
    answer = "[{\"token_ids\":[7]}]";
    RequestContext context = completion("x");
    await(vllm("100ms", "60s"), context);

    assertNull(context.get(TokenizedPrompt.KEY));
    assertEquals(List.of("tok:timeout"), failures);
  }

  @Test
  void partedChatContentGetsTheMultimodalTimeout() throws Exception {
    answer = "{\"token_ids\":[3]}";
    release = new CountDownLatch(1);
    RequestContext context = chat("[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}]");
    CompletableFuture<Void> stage = vllm("50ms", "60s").prepareDataAsync(context, Fixtures.candidates())
        .toCompletableFuture();
    Thread.sleep(500); // ten times the text timeout
    release.countDown();
    stage.join();

    assertArrayEquals(new int[] {3}, context.get(TokenizedPrompt.KEY).tokenIds());
    assertEquals(List.of(), failures);
  }

  @Test
  void serverErrorsAndGarbageAreCountedAndNeverFailTheStage() {
    TokenProducer producer = vllm("5s", "30s");
    status = 500;
    answer = "{\"object\":\"error\",\"message\":\"boom\"}";
    RequestContext failed = completion("x");
    await(producer, failed);
    status = 200;
    answer = "not json";
    RequestContext garbage = completion("x");
    await(producer, garbage);
    answer = "[{\"token_ids\":[\"a\"]}]";
    RequestContext wrongIds = completion("x");
    await(producer, wrongIds);
    answer = "{\"token_ids\":[1]}"; // a chat-shaped answer to a completions request
    RequestContext wrongShape = completion("x");
    await(producer, wrongShape);

    for (RequestContext context : List.of(failed, garbage, wrongIds, wrongShape)) {
      assertNull(context.get(TokenizedPrompt.KEY));
    }
    assertEquals(List.of("tok:error", "tok:bad_response", "tok:bad_response", "tok:bad_response"), failures);
  }

  @Test
  void anAnswerFarLargerThanAPromptCanNeedIsCutOffAndCounted() {
    TokenProducer producer = vllm("5s", "30s");
    answer = "[{\"token_ids\":[" + "1,".repeat((int) TokenProducer.answerCap(1)) + "1]}]";
    RequestContext huge = completion("x");
    await(producer, huge);
    assertNull(huge.get(TokenizedPrompt.KEY));
    assertEquals(List.of("tok:error"), failures);
  }

  @Test
  void anUnreachableServerIsAnError() {
    String unreachable = url();
    server.stop(0);
    TokenProducer producer = TokenProducer.create(new PluginSpec("tok", TokenProducer.TYPE, Parameters.of(Map.of(
        "modelName", "m", "vllm", Map.of("url", unreachable)))), handle);
    RequestContext context = completion("x");
    await(producer, context);

    assertNull(context.get(TokenizedPrompt.KEY));
    assertEquals(List.of("tok:error"), failures);
  }

  @Test
  void anAlreadyTokenizedPromptAndOtherApisAreLeftAlone() {
    TokenProducer producer = vllm("5s", "30s");
    RequestContext tokenized = completion("x");
    TokenizedPrompt earlier = new TokenizedPrompt(new int[] {9}, true);
    tokenized.put(TokenizedPrompt.KEY, earlier);
    await(producer, tokenized);
    RequestContext embeddings = request(new RequestBody(RequestBody.Api.EMBEDDINGS, false, "", "\"text\""));
    await(producer, embeddings);

    assertSame(earlier, tokenized.get(TokenizedPrompt.KEY));
    assertNull(embeddings.get(TokenizedPrompt.KEY));
    assertEquals(List.of(), paths);
  }
}
