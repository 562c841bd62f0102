package dev.epp.examples.simulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Prefill/decode disaggregation between two simulators over real HTTP on loopback. */
class DisaggregatedPrefillTest {

  private static final String MODEL = "sim-model";
  private static final String LABELS = "{engine=\"0\",model_name=\"" + MODEL + "\"";
  private static final String PROMPT = "abcd".repeat(1000); // 1,000 tokens

  private final HttpClient client = HttpClient.newHttpClient();
  private final List<AutoCloseable> servers = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (AutoCloseable server : servers) {
      server.close();
    }
  }

  private SimulatorServer start(Role role, String name, long prefillNanosPerToken, long kvTransferNanosPerToken)
      throws IOException {
    EngineConfig config = new EngineConfig(MODEL, List.of(), 1, 8, 256, 16, prefillNanosPerToken, 0,
        kvTransferNanosPerToken);
    SimulatorServer server = SimulatorServer.start(config, role, name, SimulatorServer.TextMode.RANDOM, 1,
        new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    servers.add(server);
    return server;
  }

  private HttpResponse<String> complete(SimulatorServer server, String prefiller, String extraJson)
      throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port()
        + "/v1/completions")).POST(HttpRequest.BodyPublishers.ofString(
            "{\"model\":\"" + MODEL + "\",\"prompt\":\"" + PROMPT + "\",\"max_tokens\":8" + extraJson + "}"));
    if (prefiller != null) {
      request.header(SimulatorServer.PREFILLER_HEADER, prefiller);
    }
    return client.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static String hostPort(SimulatorServer server) {
    return "127.0.0.1:" + server.port();
  }

  private static String header(HttpResponse<?> response, String name) {
    return response.headers().firstValue(name).orElse(null);
  }

  /** The value of the sample {@code series} (name and labels) on {@code server}'s /metrics page. */
  private double metric(SimulatorServer server, String series) throws Exception {
    String page = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/metrics"))
        .build(), HttpResponse.BodyHandlers.ofString()).body();
    return page.lines().filter(line -> line.startsWith(series + " ")).findFirst()
        .map(line -> Double.parseDouble(line.substring(series.length() + 1)))
        .orElseThrow(() -> new AssertionError("no " + series + " in\n" + page));
  }

  private static String bySource(String source) {
    return "vllm:prompt_tokens_by_source_total" + LABELS + ",source=\"" + source + "\"}";
  }

  @Test
  void theDecodePodPrefillsOnThePrefillPodThenPullsTheKvAndDecodes() throws Exception {
    SimulatorServer prefill = start(Role.PREFILL, "prefill-0", 200_000, 0); // 200 us per prefilled token
    SimulatorServer decode = start(Role.DECODE, "decode-0", 200_000, 100_000); // 100 us per transferred token

    HttpResponse<String> response = complete(decode, hostPort(prefill), "");

    assertEquals(200, response.statusCode(), response.body());
    assertEquals("prefill-0", header(response, SimulatorServer.PREFILLED_BY_HEADER));
    assertEquals("decode-0", header(response, SimulatorServer.DECODED_BY_HEADER));
    double ttftMs = Double.parseDouble(header(response, SimulatorServer.TTFT_HEADER));
    assertTrue(ttftMs >= 1000 * 0.2 + 999 * 0.1, "prefill (200 ms) plus transfer (99.9 ms): " + ttftMs);
    JsonNode usage = OpenAiRequest.JSON.readTree(response.body()).path("usage");
    assertEquals(1000, usage.path("prompt_tokens").asInt());
    assertEquals(8, usage.path("completion_tokens").asInt()); // the client's max_tokens, not the prefill's 1

    assertEquals(1000, metric(prefill, "vllm:prompt_tokens_total" + LABELS + "}"));
    assertEquals(1000, metric(prefill, bySource("local_compute")));
    assertEquals(1, metric(prefill, "vllm:generation_tokens_total" + LABELS + "}"));
    assertEquals(1, metric(prefill, "vllm:request_success_total" + LABELS + ",finished_reason=\"length\"}"));
    assertEquals(1000, metric(decode, "vllm:prompt_tokens_total" + LABELS + "}"));
    assertEquals(999, metric(decode, bySource("external_kv_transfer")));
    assertEquals(1, metric(decode, bySource("local_compute")));
    assertEquals(8, metric(decode, "vllm:generation_tokens_total" + LABELS + "}"));
    for (SimulatorServer server : List.of(prefill, decode)) {
      assertEquals(0, metric(server, "vllm:num_requests_running" + LABELS + "}"));
      assertEquals(0, metric(server, "vllm:kv_cache_usage_perc" + LABELS + "}"));
    }
  }

  @Test
  void aStreamedRequestIsPrefilledUnstreamedAndReportsThePrefillPodsCachedTokens() throws Exception {
    SimulatorServer prefill = start(Role.PREFILL, "prefill-0", 0, 0);
    SimulatorServer decode = start(Role.BOTH, "decode-0", 0, 0);
    complete(prefill, null, ""); // caches the prompt on the prefill pod only

    HttpResponse<String> response = complete(decode, hostPort(prefill),
        ",\"stream\":true,\"stream_options\":{\"include_usage\":true}");

    assertEquals(200, response.statusCode(), response.body());
    List<String> data = response.body().lines().filter(l -> l.startsWith("data: ")).map(l -> l.substring(6)).toList();
    assertEquals("[DONE]", data.get(data.size() - 1));
    assertEquals(8 + 3, data.size(), response.body()); // 8 tokens, the finish chunk, the usage chunk, [DONE]
    JsonNode usage = OpenAiRequest.JSON.readTree(data.get(9)).path("usage");
    assertEquals(992, usage.at("/prompt_tokens_details/cached_tokens").asInt()); // 62 blocks on the prefill pod
    assertEquals(0, metric(decode, "vllm:prefix_cache_hits_total" + LABELS + "}"));
    assertEquals(992, metric(prefill, "vllm:prefix_cache_hits_total" + LABELS + "}"));
  }

  @Test
  void theDecodePodHoldsItsSlotAndBlocksWhileTheKvIsTransferred() throws Exception {
    SimulatorServer prefill = start(Role.PREFILL, "prefill-0", 0, 0);
    SimulatorServer decode = start(Role.DECODE, "decode-0", 0, 60_000_000_000L); // a minute per token
    client.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + decode.port() + "/v1/completions"))
        .header(SimulatorServer.PREFILLER_HEADER, hostPort(prefill))
        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"" + MODEL + "\",\"prompt\":\"" + PROMPT
            + "\",\"max_tokens\":8}")).build(), HttpResponse.BodyHandlers.discarding());

    Awaitility.await("the transfer starts").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20))
        .until(() -> metric(decode, "vllm:num_requests_running" + LABELS + "}") == 1);
    assertEquals(63 / 256.0, metric(decode, "vllm:kv_cache_usage_perc" + LABELS + "}"), 1e-9); // 1,008 tokens
    assertEquals(1000, metric(prefill, "vllm:prompt_tokens_total" + LABELS + "}"));
    assertEquals(0, metric(prefill, "vllm:num_requests_running" + LABELS + "}"));
    assertEquals(0, metric(decode, "vllm:prompt_tokens_total" + LABELS + "}"));
  }

  @Test
  void withoutTheHeaderAPodServesAloneAndAPrefillPodIgnoresIt() throws Exception {
    SimulatorServer decode = start(Role.DECODE, "decode-0", 0, 0);
    SimulatorServer prefill = start(Role.PREFILL, "prefill-0", 0, 0);

    HttpResponse<String> alone = complete(decode, null, "");
    HttpResponse<String> ignored = complete(prefill, "127.0.0.1:" + freePort(), "");

    assertEquals(200, alone.statusCode(), alone.body());
    assertEquals("decode-0", header(alone, SimulatorServer.PREFILLED_BY_HEADER));
    assertEquals("decode-0", header(alone, SimulatorServer.DECODED_BY_HEADER));
    assertEquals(1000, metric(decode, bySource("local_compute")));
    assertEquals(0, metric(decode, bySource("external_kv_transfer")));
    assertEquals(200, ignored.statusCode(), ignored.body());
    assertEquals("prefill-0", header(ignored, SimulatorServer.DECODED_BY_HEADER));
  }

  @Test
  void anUnreachablePrefillPodIsABadGatewayError() throws Exception {
    SimulatorServer decode = start(Role.DECODE, "decode-0", 0, 0);
    String nowhere = "127.0.0.1:" + freePort();

    HttpResponse<String> response = complete(decode, nowhere, "");

    assertEquals(502, response.statusCode());
    JsonNode error = OpenAiRequest.JSON.readTree(response.body());
    assertEquals("BadGateway", error.path("type").asText());
    assertEquals("cannot connect to prefill pod " + nowhere, error.path("message").asText());
    assertEquals(0, metric(decode, "vllm:prompt_tokens_total" + LABELS + "}"));
  }

  @Test
  void aFailingPrefillPodIsABadGatewayErrorAndItsClientErrorsPassThrough() throws Exception {
    SimulatorServer decode = start(Role.DECODE, "decode-0", 0, 0);
    HttpServer failing = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    failing.createContext("/", exchange -> {
      byte[] body = "{\"object\":\"error\",\"message\":\"engine dead\",\"type\":\"InternalServerError\",\"code\":500}"
          .getBytes(StandardCharsets.UTF_8);
      exchange.sendResponseHeaders(500, body.length);
      exchange.getResponseBody().write(body);
      exchange.close();
    });
    failing.start();
    servers.add(() -> failing.stop(0));
    EngineConfig otherModel = new EngineConfig("other-model", List.of(), 1, 8, 256, 16, 0, 0, 0);
    SimulatorServer wrongModel = SimulatorServer.start(otherModel, Role.PREFILL, "prefill-0",
        SimulatorServer.TextMode.RANDOM, 1, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    servers.add(wrongModel);

    HttpResponse<String> serverError = complete(decode, "127.0.0.1:" + failing.getAddress().getPort(), "");
    HttpResponse<String> clientError = complete(decode, hostPort(wrongModel), "");
    HttpResponse<String> badHeader = complete(decode, "not a host", "");

    assertEquals(502, serverError.statusCode());
    assertEquals("prefill pod 127.0.0.1:" + failing.getAddress().getPort() + " answered 500: engine dead",
        OpenAiRequest.JSON.readTree(serverError.body()).path("message").asText());
    assertEquals(404, clientError.statusCode());
    assertEquals("The model `" + MODEL + "` does not exist.",
        OpenAiRequest.JSON.readTree(clientError.body()).path("message").asText());
    assertEquals(400, badHeader.statusCode());
    assertEquals("invalid x-prefiller-host-port 'not a host': expected <host>:<port>",
        OpenAiRequest.JSON.readTree(badHeader.body()).path("message").asText());
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }
}
