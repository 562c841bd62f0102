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

/** The multi-turn workload: growing chats that resend their history, starting in bursts. */
class MultiTurnWorkloadTest {

  private static final String MODEL = EngineConfig.DEFAULT_MODEL;
  private static final List<Workload.Item> ITEMS = MultiTurnWorkload.generate(3000, 200, 7, MODEL);

  @Test
  void eachTurnResendsThePreviousTurnAndItsReply() throws Exception {
    Map<String, OpenAiRequest> lastTurn = new HashMap<>();
    Map<String, String> lastReply = new HashMap<>();
    Set<String> systemPrompts = new HashSet<>();
    int followUps = 0;
    for (Workload.Item item : ITEMS) {
      assertTrue(item.chat());
      JsonNode messages = OpenAiRequest.JSON.readTree(item.body()).path("messages");
      String conversation = messages.path(1).path("content").asText().split(",")[0];
      systemPrompts.add(messages.path(0).path("content").asText());
      OpenAiRequest request = OpenAiRequest.parse(true, item.body());
      assertEquals(Workload.OUTPUT_TOKENS, request.maxTokens());
      assertEquals(Workload.QUESTION_TOKENS, SimulatedEngine.tokens(request.lastUserText()));
      OpenAiRequest previous = lastTurn.put(conversation, request);
      if (previous == null) {
        assertEquals(2, messages.size(), "a conversation starts with its first turn");
      } else {
        followUps++;
        assertTrue(request.prompt().startsWith(previous.prompt() + lastReply.get(conversation)),
            "the follow-up's prompt starts with what the pod cached: the previous prompt and its reply");
        assertEquals(messages.path(messages.size() - 2).path("content").asText(), lastReply.get(conversation));
      }
      lastReply.put(conversation, item.reply());
      assertEquals(Workload.OUTPUT_TOKENS, item.reply().split(" ").length);
    }
    assertEquals(MultiTurnWorkload.APPS, systemPrompts.size());
    assertTrue(followUps > ITEMS.size() / 2, "most requests continue a conversation: " + followUps);
    assertTrue(lastTurn.values().stream().allMatch(r -> r.prompt().split("<\\|im_start\\|>user").length - 1
        <= MultiTurnWorkload.TURNS));
  }

  @Test
  void requestsArriveInOrderAtTheMeanRateAndInBursts() {
    long[] perSecond = new long[(int) (ITEMS.get(ITEMS.size() - 1).arrivalNanos() / 1_000_000_000L) + 1];
    for (int i = 0; i < ITEMS.size(); i++) {
      assertEquals("req-" + i, ITEMS.get(i).id());
      if (i > 0) {
        assertTrue(ITEMS.get(i).arrivalNanos() >= ITEMS.get(i - 1).arrivalNanos());
      }
      perSecond[(int) (ITEMS.get(i).arrivalNanos() / 1_000_000_000L)]++;
    }
    double seconds = ITEMS.get(ITEMS.size() - 1).arrivalNanos() / 1e9;
    assertEquals(200, ITEMS.size() / seconds, 40, "mean rate");
    // the first second of each burst period carries far more than the period's last second
    long burstSeconds = 0;
    long quietSeconds = 0;
    int period = (int) MultiTurnWorkload.BURST_PERIOD_SECONDS;
    for (int s = period; s + period <= perSecond.length; s += period) {
      burstSeconds += perSecond[s];
      quietSeconds += perSecond[s + period - 1];
    }
    assertTrue(burstSeconds > 2 * quietSeconds, burstSeconds + " vs " + quietSeconds);
  }

  @Test
  void aSeedReproducesTheWorkload() {
    List<Workload.Item> again = MultiTurnWorkload.generate(3000, 200, 7, MODEL);
    for (int i = 0; i < ITEMS.size(); i++) {
      assertEquals(ITEMS.get(i).arrivalNanos(), again.get(i).arrivalNanos());
      assertEquals(new String(ITEMS.get(i).body()), new String(again.get(i).body()));
    }
  }
}
