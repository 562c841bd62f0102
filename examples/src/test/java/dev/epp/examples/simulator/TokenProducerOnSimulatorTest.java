package dev.epp.examples.simulator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.requestcontrol.TokenizedPrompt;
import dev.epp.scheduler.Director;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.scheduler.EndpointPool;
import dev.epp.scheduler.Routing;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The EPP's {@code token-producer} against the simulator's render API: the token ids it stores for a request are the
 * ones the simulator keys its KV-cache blocks with.
 */
class TokenProducerOnSimulatorTest {

  private static final String MODEL = "sim-model";

  private final EndpointPool pool = new EndpointPool();
  private SimulatorServer simulator;
  private Director director;

  @BeforeEach
  void start() throws Exception {
    simulator = SimulatorServer.start(new EngineConfig(MODEL, List.of(), 1, 4, 64, 16, 0, 0, 0), Role.BOTH, "pod-a",
        SimulatorServer.TextMode.RANDOM, 1, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    pool.upsert(Endpoint.of("pod-a-rank-0", "127.0.0.1", simulator.port()));
    pool.updateMetrics("pod-a-rank-0", EndpointMetrics.builder().updatedNanos(System.nanoTime()).build());
    director = Director.builder(EndpointPickerConfig.loader().parse("""
        apiVersion: llm-d.ai/v1alpha1
        kind: EndpointPickerConfig
        plugins:
        - type: token-producer
          parameters:
            modelName: %s
            vllm:
              url: http://127.0.0.1:%d
              timeout: 60s
        """.formatted(MODEL, simulator.port()), "test.yaml"), pool).build();
  }

  @AfterEach
  void stop() {
    simulator.close();
  }

  private int[] tokenize(String path, String body) {
    Routing routing = director.route(Map.of(":path", path), body.getBytes(StandardCharsets.UTF_8), null);
    assertEquals("127.0.0.1:" + simulator.port(), routing.destination());
    TokenizedPrompt prompt = routing.context().get(TokenizedPrompt.KEY);
    assertTrue(prompt.exact());
    return prompt.tokenIds();
  }

  @Test
  void completionTokensAreTheSimulatorsCacheTokens() {
    String prompt = "The quick brown fox jumps over the lazy dog. ".repeat(4);
    int[] ids = tokenize("/v1/completions", "{\"model\":\"" + MODEL + "\",\"prompt\":\"" + prompt + "\"}");

    TokenBlocks blocks = TokenBlocks.of(MODEL, null, prompt, 16);
    assertArrayEquals(blocks.tokenIds(), ids);
    assertEquals(2, blocks.count(), "the ids cover the blocks the cache stores");
  }

  @Test
  void chatTokensAreTheSimulatorsCacheTokensOfTheTemplatedConversation() {
    int[] ids = tokenize("/v1/chat/completions", "{\"model\":\"" + MODEL + "\",\"messages\":[{\"role\":\"user\","
        + "\"content\":\"Hello there\"}]}");

    assertArrayEquals(TokenBlocks.tokenIds("<|im_start|>user\nHello there<|im_end|>\n<|im_start|>assistant\n"), ids);
  }
}
