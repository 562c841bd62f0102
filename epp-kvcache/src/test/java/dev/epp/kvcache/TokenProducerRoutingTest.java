package dev.epp.kvcache;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.requestcontrol.AsyncPrepareData;
import dev.epp.api.requestcontrol.TokenizedPrompt;
import dev.epp.scheduler.ConfigException;
import dev.epp.scheduler.Director;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.scheduler.EndpointPool;
import dev.epp.scheduler.Routing;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The token producer as configured by YAML and run by a real {@link Director} over an {@link EndpointPool}. */
class TokenProducerRoutingTest {

  private static final String HEADER = "apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\n";

  private final EndpointPool pool = new EndpointPool();
  private final CountDownLatch slow = new CountDownLatch(1);
  private HttpServer server;

  @BeforeEach
  void start() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.setExecutor(Executors.newCachedThreadPool());
    server.createContext("/ok/v1/completions/render", exchange -> answer(exchange, 200, "[{\"token_ids\":[5,6]}]"));
    server.createContext("/failing/v1/completions/render", exchange -> answer(exchange, 500, "boom"));
    server.createContext("/slow/v1/completions/render", exchange -> {
      try {
        slow.await(60, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      answer(exchange, 200, "[{\"token_ids\":[1]}]");
    });
    server.start();
    pool.upsert(Endpoint.of("pod-0-rank-0", "10.0.0.1", 8000));
    pool.updateMetrics("pod-0-rank-0", EndpointMetrics.builder().updatedNanos(System.nanoTime()).build());
  }

  @AfterEach
  void stop() {
    slow.countDown();
    server.stop(0);
  }

  private static void answer(com.sun.net.httpserver.HttpExchange exchange, int status, String body)
      throws IOException {
    try (exchange) {
      exchange.getRequestBody().readAllBytes();
      byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
      exchange.sendResponseHeaders(status, bytes.length);
      exchange.getResponseBody().write(bytes);
    }
  }

  private String base(String path) {
    return "http://127.0.0.1:" + server.getAddress().getPort() + path;
  }

  private static EndpointPickerConfig load(String plugins) {
    return EndpointPickerConfig.loader().parse(HEADER + "plugins:\n" + plugins, "test.yaml");
  }

  private Routing route(String url, String timeout) {
    Director director = Director.builder(load("""
        - type: token-producer
          parameters:
            modelName: m
            vllm:
              url: %s
              timeout: %s
        """.formatted(url, timeout)), pool).build();
    return director.route(Map.of(":path", "/v1/completions"),
        "{\"model\":\"m\",\"prompt\":\"hello\"}".getBytes(StandardCharsets.UTF_8), null);
  }

  @Test
  void theDirectorWaitsForTheTokensBeforeScheduling() {
    Routing routing = route(base("/ok"), "60s");

    assertEquals("10.0.0.1:8000", routing.destination());
    assertArrayEquals(new int[] {5, 6}, routing.context().get(TokenizedPrompt.KEY).tokenIds());
  }

  @Test
  void aFailingSlowOrUnreachableTokenizerNeverFailsTheRequest() throws IOException {
    int closedPort;
    try (java.net.ServerSocket socket = new java.net.ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closedPort = socket.getLocalPort();
    }
    for (String url : new String[] {base("/failing"), base("/slow"), "http://127.0.0.1:" + closedPort}) {
      Routing routing = route(url, "200ms");
      assertEquals("10.0.0.1:8000", routing.destination(), url);
      assertNull(routing.context().get(TokenizedPrompt.KEY), url);
    }
  }

  @Test
  void theLegacyTypeIsAnAliasAndEstimateIsTheDefault() {
    EndpointPickerConfig config = load("- type: tokenizer\n  name: old\n- type: token-producer\n");
    assertEquals(2, config.plugins(AsyncPrepareData.class).size());
    assertTrue(config.plugins(AsyncPrepareData.class).stream().allMatch(p -> p instanceof TokenProducer));
    assertFalse(new TokenProducer.Factory().experimental(), "Beta in llm-d");
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "'  parameters: {bogus: 1}'| bogus",
      "'  parameters: {modelName: m, vllm: {url: \"http://x\", bogus: 1}}'| vllm.bogus",
      "'  parameters: {vllm: {url: \"http://x\"}}'| parameter 'modelName' must be specified for the vllm backend",
      "'  parameters: {modelName: m, estimate: {}}'| parameter 'estimate' excludes 'vllm' and 'modelName'",
      "'  parameters: {modelName: m, vllm: {url: \"ftp://x\"}}'| parameter 'vllm.url' must be an http:// or https:// URL",
      "'  parameters: {modelName: m, vllm: {timeout: 0s}}'| parameter 'vllm.timeout' must be positive",
      "'  parameters: {modelName: m, vllm: {mmTimeout: soon}}'| vllm.mmTimeout",
      "'  parameters: {udsTokenizerConfig: {socketFile: /tmp/s}}'| parameter 'udsTokenizerConfig' is not supported",
  })
  void invalidParametersAreLocatedErrors(String parameters, String expected) {
    ConfigException e = assertThrows(ConfigException.class, () -> load("- type: token-producer\n" + parameters + "\n"));
    assertTrue(e.getMessage().startsWith("test.yaml:"), e.getMessage());
    assertTrue(e.getMessage().contains(expected), e.getMessage());
  }
}
