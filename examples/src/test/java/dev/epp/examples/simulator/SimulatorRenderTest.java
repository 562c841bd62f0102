package dev.epp.examples.simulator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** vLLM's render API on the simulator, over real HTTP on loopback. */
class SimulatorRenderTest {

  private static final String MODEL = "sim-model";

  private final HttpClient client = HttpClient.newHttpClient();
  private SimulatorServer server;

  @BeforeEach
  void start() throws Exception {
    server = SimulatorServer.start(new EngineConfig(MODEL, List.of(), 1, 4, 64, 16, 0, 0, 0), Role.BOTH, "pod-a",
        SimulatorServer.TextMode.RANDOM, 1, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
  }

  @AfterEach
  void close() {
    server.close();
  }

  private HttpResponse<String> post(String path, String json) throws Exception {
    return client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
        .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private static int[] ids(JsonNode tokenIds) {
    return StreamSupport.stream(tokenIds.spliterator(), false).mapToInt(JsonNode::asInt).toArray();
  }

  @Test
  void completionsRenderAnswersOneEntryWithThePromptsTokenIds() throws Exception {
    String body = "{\"model\":\"" + MODEL + "\",\"prompt\":\"The capital of France is\"}";
    HttpResponse<String> response = post("/v1/completions/render", body);

    assertEquals(200, response.statusCode(), response.body());
    JsonNode json = OpenAiRequest.JSON.readTree(response.body());
    assertEquals(1, json.size());
    assertEquals(MODEL, json.get(0).path("model").asText());
    int[] ids = ids(json.get(0).path("token_ids"));
    assertArrayEquals(TokenBlocks.tokenIds("The capital of France is"), ids);
    JsonNode usage = OpenAiRequest.JSON.readTree(post("/v1/completions", body).body()).path("usage");
    assertEquals(usage.path("prompt_tokens").asInt(), ids.length, "as many ids as the engine counts tokens");
  }

  @Test
  void chatRenderAnswersTheTokenIdsOfTheTemplatedConversation() throws Exception {
    String body = "{\"model\":\"" + MODEL + "\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
        + "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hi\"}]}]}";
    HttpResponse<String> response = post("/v1/chat/completions/render", body);

    assertEquals(200, response.statusCode(), response.body());
    JsonNode json = OpenAiRequest.JSON.readTree(response.body());
    assertEquals(MODEL, json.path("model").asText());
    assertArrayEquals(TokenBlocks.tokenIds("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
        + "<|im_start|>assistant\n"), ids(json.path("token_ids")));
  }

  @Test
  void equalPiecesGetEqualIdsAndDifferentOnesDifferentIds() throws Exception {
    JsonNode json = OpenAiRequest.JSON.readTree(post("/v1/completions/render",
        "{\"model\":\"" + MODEL + "\",\"prompt\":[\"abcdabcd\",\"wxyz\"]}").body());
    int[] ids = ids(json.get(0).path("token_ids"));
    assertEquals(3, ids.length, "an array prompt is one prompt");
    assertEquals(ids[0], ids[1]);
    assertNotEquals(ids[0], ids[2]);
  }

  @Test
  void badRequestsGetOpenAiErrors() throws Exception {
    HttpResponse<String> garbage = post("/v1/chat/completions/render", "{not json");
    assertEquals(400, garbage.statusCode());
    JsonNode error = OpenAiRequest.JSON.readTree(garbage.body());
    assertEquals("error", error.path("object").asText());
    assertEquals("BadRequestError", error.path("type").asText());

    HttpResponse<String> noMessages = post("/v1/chat/completions/render", "{\"model\":\"" + MODEL + "\"}");
    assertEquals(400, noMessages.statusCode());
    assertEquals("'messages' must be a non-empty array",
        OpenAiRequest.JSON.readTree(noMessages.body()).path("message").asText());

    HttpResponse<String> unknownModel = post("/v1/completions/render", "{\"model\":\"other\",\"prompt\":\"x\"}");
    assertEquals(404, unknownModel.statusCode());
    assertEquals("NotFoundError", OpenAiRequest.JSON.readTree(unknownModel.body()).path("type").asText());

    HttpResponse<String> get = client.send(HttpRequest.newBuilder(
        URI.create("http://127.0.0.1:" + server.port() + "/v1/completions/render")).GET().build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(405, get.statusCode());
  }
}
