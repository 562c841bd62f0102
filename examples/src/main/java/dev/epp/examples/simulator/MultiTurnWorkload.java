package dev.epp.examples.simulator;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;

/**
 * A reproducible open-loop workload of multi-turn chats that arrive in bursts: the workload that tests whether a
 * scheduler keeps a conversation where its context is cached while load comes and goes.
 *
 * <ul>
 *   <li>{@value #APPS} applications, each with a system prompt of {@value Workload#PREFIX_TOKENS} tokens that all its
 *       conversations share (an assistant product's instructions), so a conversation's first turn already matches
 *       the other conversations of its application;
 *   <li>a conversation has {@value #TURNS} turns; each adds a user message of {@value Workload#QUESTION_TOKENS}
 *       tokens, and the next turn resends the whole chat with the assistant's reply ({@value Workload#OUTPUT_TOKENS}
 *       tokens, {@code max_tokens}) appended, so the context grows from about 390 to about 970 tokens and each turn
 *       starts with the previous turn's prompt and reply;
 *   <li>the user thinks for an exponentially distributed time, mean {@value #THINK_SECONDS} s, after each turn's
 *       arrival before sending the next (open loop: arrivals do not depend on how requests are served);
 *   <li>conversations start in bursts: every {@value #BURST_PERIOD_SECONDS} s, the period's conversations all start
 *       within {@value #BURST_SECONDS} s, so for that half second their first turns alone arrive at 1.7 times the
 *       mean rate, on top of the later turns of conversations already under way.
 * </ul>
 *
 * <p>On average {@code rate / TURNS} conversations start per second.
 */
final class MultiTurnWorkload {

  static final int APPS = 10;
  static final int TURNS = 6;
  static final double THINK_SECONDS = 1;
  static final double BURST_PERIOD_SECONDS = 5;
  static final double BURST_SECONDS = 0.5;

  /** A turn before it has its request id: ordered by arrival when the conversations are interleaved. */
  private record Turn(long arrivalNanos, byte[] body, String reply) {}

  private MultiTurnWorkload() {}

  /** The first {@code requests} turns by arrival, for {@code model}, at {@code rate} per second on average. */
  static List<Workload.Item> generate(int requests, double rate, long seed, String model) {
    Random random = new Random(seed);
    List<String> apps = new ArrayList<>(APPS);
    for (int a = 0; a < APPS; a++) {
      apps.add(Workload.text(random, "You are the assistant of application #" + a + ". ", Workload.PREFIX_TOKENS));
    }
    double conversationsPerBurst = rate / TURNS * BURST_PERIOD_SECONDS;
    List<Turn> turns = new ArrayList<>();
    int conversation = 0;
    for (int burst = 0; ; burst++) {
      double start = burst * BURST_PERIOD_SECONDS;
      long startNanos = (long) (start * 1e9);
      // Later bursts' turns arrive after this one starts: once `requests` turns arrived before it, they are the first.
      if (turns.stream().filter(turn -> turn.arrivalNanos() < startNanos).count() >= requests) {
        break;
      }
      int count = (int) Math.round((burst + 1) * conversationsPerBurst) - (int) Math.round(burst * conversationsPerBurst);
      for (int c = 0; c < count; c++, conversation++) {
        conversation(random, model, apps.get(random.nextInt(APPS)), conversation,
            start + random.nextDouble() * BURST_SECONDS, turns);
      }
    }
    turns.sort(Comparator.comparingLong(Turn::arrivalNanos));
    List<Workload.Item> items = new ArrayList<>(requests);
    for (int i = 0; i < requests; i++) {
      Turn turn = turns.get(i);
      items.add(new Workload.Item("req-" + i, turn.arrivalNanos(), true, turn.body(), turn.reply()));
    }
    return items;
  }

  /** Adds a conversation's {@value #TURNS} turns, the first at {@code seconds}. */
  private static void conversation(Random random, String model, String systemPrompt, int id, double seconds,
      List<Turn> turns) {
    ArrayNode messages = OpenAiRequest.JSON.createArrayNode().add(message("system", systemPrompt));
    for (int t = 0; t < TURNS; t++) {
      messages.add(message("user",
          Workload.text(random, "Conversation #" + id + ", turn " + t + ": ", Workload.QUESTION_TOKENS)));
      ObjectNode body = OpenAiRequest.JSON.createObjectNode().put("model", model)
          .put("max_tokens", Workload.OUTPUT_TOKENS);
      body.set("messages", messages.deepCopy());
      String reply = Workload.reply(random, Workload.OUTPUT_TOKENS);
      turns.add(new Turn((long) (seconds * 1e9), Workload.json(body), reply));
      messages.add(message("assistant", reply));
      seconds += -Math.log(1 - random.nextDouble()) * THINK_SECONDS;
    }
  }

  private static ObjectNode message(String role, String content) {
    return OpenAiRequest.JSON.createObjectNode().put("role", role).put("content", content);
  }
}
