package dev.epp.examples.simulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The routing-bench workload has the published benchmark's shape, scaled to the simulated pods. */
class WorkloadTest {

  private static final String MODEL = EngineConfig.DEFAULT_MODEL;

  @Test
  void recurringPromptsNeedThreeQuartersOfEightPodsCache() {
    EngineConfig pod = EngineConfig.defaults();
    long cluster = 8L * pod.kvBlocks() * pod.blockSize();
    long demand = (long) Workload.CUSTOMERS
        * (Workload.PREFIX_TOKENS + Workload.USERS_PER_CUSTOMER * Workload.QUESTION_TOKENS);
    assertEquals(0.73, (double) demand / cluster, 0.005);
    assertTrue(demand > 5 * pod.kvBlocks() * pod.blockSize(), "far more than one pod holds");
  }

  @Test
  void eachUserIsSentAgainAfterAllOthers() throws Exception {
    List<Workload.Item> items = Workload.generate(2000, 100, 7, MODEL);
    Set<String> prefixes = new HashSet<>();
    Map<String, Integer> lastSeen = new HashMap<>();
    int chats = 0;
    for (Workload.Item item : items) {
      JsonNode body = OpenAiRequest.JSON.readTree(item.body());
      assertEquals(Workload.OUTPUT_TOKENS, body.path("max_tokens").asInt());
      if (!item.chat()) {
        assertEquals(Workload.PREFIX_TOKENS + Workload.QUESTION_TOKENS,
            SimulatedEngine.tokens(body.path("prompt").asText()));
        continue;
      }
      String system = body.path("messages").path(0).path("content").asText();
      String question = body.path("messages").path(1).path("content").asText();
      assertEquals(Workload.PREFIX_TOKENS, SimulatedEngine.tokens(system));
      assertEquals(Workload.QUESTION_TOKENS, SimulatedEngine.tokens(question));
      prefixes.add(system);
      Integer previous = lastSeen.put(system + question, chats);
      if (previous != null) {
        assertEquals(Workload.CUSTOMERS * Workload.USERS_PER_CUSTOMER, chats - previous);
      }
      chats++;
    }
    assertEquals(Workload.CUSTOMERS, prefixes.size());
    assertEquals(Workload.CUSTOMERS * Workload.USERS_PER_CUSTOMER, lastSeen.size());
    assertTrue(Math.abs(items.size() - chats - Workload.UNIQUE_FRACTION * items.size()) < 60, "unique prompts");
  }
}
