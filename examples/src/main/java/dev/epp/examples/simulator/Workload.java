package dev.epp.examples.simulator;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;
import java.util.Random;

/**
 * A reproducible open-loop workload of OpenAI request bodies: everything is drawn from one {@link Random} seeded by
 * the caller, and arrival times do not depend on how requests are served, so every routing configuration replays
 * exactly the same requests.
 *
 * <p>Requests arrive as a Poisson process at {@code rate} per second. Each is, independently:
 *
 * <ul>
 *   <li>with probability {@value #UNIQUE_FRACTION}, a completions request with a unique prompt of 1,000-4,000
 *       characters;
 *   <li>otherwise a chat-completions turn. If a conversation is ready for its next turn (its previous turn arrived
 *       at least 3 s plus an exponential think time of mean 7 s ago), with probability {@value #CONTINUE_PROBABILITY}
 *       the longest-ready one continues: its messages so far, the assistant's previous reply and a new user
 *       message. Otherwise a new conversation starts with one
 *       of {@value #SYSTEM_PROMPTS} system prompts of 2,000-8,000 characters, chosen with Zipf({@value #ZIPF_S})
 *       popularity, and a first user message. A conversation has 2 to 8 turns.
 * </ul>
 *
 * <p>User messages have 100-800 characters; {@code max_tokens} is 32-256. Text is random words.
 */
final class Workload {

  static final int SYSTEM_PROMPTS = 20;
  static final double ZIPF_S = 1.1;
  static final double UNIQUE_FRACTION = 0.2;
  static final double CONTINUE_PROBABILITY = 0.7;

  private static final String[] WORDS = {"model", "cache", "token", "prefix", "router", "gateway", "latency", "queue",
      "batch", "kernel", "tensor", "request", "answer", "system", "policy", "weight", "signal", "memory", "block",
      "stream", "vector", "shard", "replica", "scheduler", "endpoint", "adapter", "prompt", "context", "window",
      "decode", "prefill", "throughput", "budget", "quality", "service", "cluster", "node", "region", "zone", "pool"};

  /**
   * One request.
   *
   * @param id the request id, {@code req-<index>}
   * @param arrivalNanos when it arrives, from 0
   * @param chat whether it goes to {@code /v1/chat/completions} (else {@code /v1/completions})
   * @param body the JSON body
   * @param reply the answer, {@code max_tokens} four-character words: what the simulated model generates, and what
   *     the conversation's next turn sends back
   */
  record Item(String id, long arrivalNanos, boolean chat, byte[] body, String reply) {

    /** The request path. */
    String path() {
      return chat ? "/v1/chat/completions" : "/v1/completions";
    }
  }

  private final Random random;
  private final String model;
  private final String[] systemPrompts = new String[SYSTEM_PROMPTS];
  private final double[] zipfCdf = new double[SYSTEM_PROMPTS];

  private Workload(long seed, String model) {
    this.random = new Random(seed);
    this.model = model;
    for (int i = 0; i < SYSTEM_PROMPTS; i++) {
      systemPrompts[i] = "You are assistant #" + i + ". " + text(2000, 8000);
    }
    double total = 0;
    for (int k = 0; k < SYSTEM_PROMPTS; k++) {
      total += 1 / Math.pow(k + 1, ZIPF_S);
      zipfCdf[k] = total;
    }
    for (int k = 0; k < SYSTEM_PROMPTS; k++) {
      zipfCdf[k] /= total;
    }
  }

  /** {@code requests} requests for {@code model} arriving at {@code rate} per second, drawn from {@code seed}. */
  static List<Item> generate(int requests, double rate, long seed, String model) {
    return new Workload(seed, model).items(requests, rate);
  }

  private List<Item> items(int requests, double rate) {
    List<Item> items = new ArrayList<>(requests);
    PriorityQueue<Conversation> ready = new PriorityQueue<>((a, b) -> Long.compare(a.readyAt, b.readyAt));
    double seconds = 0;
    for (int i = 0; i < requests; i++) {
      seconds += -Math.log(1 - random.nextDouble()) / rate;
      long now = (long) (seconds * 1e9);
      String id = "req-" + i;
      if (random.nextDouble() < UNIQUE_FRACTION) {
        int maxTokens = maxTokens();
        ObjectNode body = OpenAiRequest.JSON.createObjectNode().put("model", model)
            .put("prompt", id + ": " + text(1000, 4000)).put("max_tokens", maxTokens);
        items.add(new Item(id, now, false, json(body), reply(maxTokens)));
        continue;
      }
      Conversation conversation;
      if (!ready.isEmpty() && ready.peek().readyAt <= now && random.nextDouble() < CONTINUE_PROBABILITY) {
        conversation = ready.poll();
        conversation.messages.addObject().put("role", "assistant").put("content", conversation.lastReply);
      } else {
        conversation = new Conversation(2 + random.nextInt(7));
        conversation.messages.addObject().put("role", "system").put("content", systemPrompts[zipf()]);
      }
      conversation.messages.addObject().put("role", "user").put("content", text(100, 800));
      int maxTokens = maxTokens();
      conversation.lastReply = reply(maxTokens);
      ObjectNode body = OpenAiRequest.JSON.createObjectNode().put("model", model).put("max_tokens", maxTokens);
      body.set("messages", conversation.messages.deepCopy());
      items.add(new Item(id, now, true, json(body), conversation.lastReply));
      if (--conversation.turnsLeft > 0) {
        conversation.readyAt = now + (long) ((3 - 7 * Math.log(1 - random.nextDouble())) * 1e9);
        ready.add(conversation);
      }
    }
    return items;
  }

  private int zipf() {
    double u = random.nextDouble();
    for (int k = 0; k < SYSTEM_PROMPTS; k++) {
      if (u < zipfCdf[k]) {
        return k;
      }
    }
    return SYSTEM_PROMPTS - 1;
  }

  private int maxTokens() {
    return 32 + random.nextInt(225);
  }

  /** Random words, {@code min} to {@code max} characters. */
  private String text(int min, int max) {
    int length = min + random.nextInt(max - min);
    StringBuilder text = new StringBuilder(length + 16);
    while (text.length() < length) {
      text.append(WORDS[random.nextInt(WORDS.length)]).append(' ');
    }
    return text.toString();
  }

  /** A reply of {@code tokens} four-character words. */
  private String reply(int tokens) {
    StringBuilder text = new StringBuilder(tokens * SimulatedEngine.CHARS_PER_TOKEN);
    for (int i = 0; i < tokens; i++) {
      String word = WORDS[random.nextInt(WORDS.length)];
      text.append(word, 0, Math.min(3, word.length())).append(' ');
    }
    return text.toString();
  }

  private static byte[] json(ObjectNode body) {
    try {
      return OpenAiRequest.JSON.writeValueAsBytes(body);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A chat in progress. */
  private static final class Conversation {
    final ArrayNode messages = OpenAiRequest.JSON.createArrayNode();
    int turnsLeft;
    String lastReply;
    long readyAt;

    Conversation(int turns) {
      this.turnsLeft = turns;
    }
  }
}
