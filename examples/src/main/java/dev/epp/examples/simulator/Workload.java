package dev.epp.examples.simulator;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * A reproducible open-loop workload of OpenAI request bodies: everything is drawn from one {@link Random} seeded by
 * the caller, and arrival times do not depend on how requests are served, so every routing configuration replays
 * exactly the same requests.
 *
 * <p>Its shape is llm-d's published prefix-caching benchmark ("KV-cache wins you can see": 8 vLLM pods, 150 customers
 * with a 6,000-token context each, 5 users per customer with a 1,200-token question each, 1,000 output tokens; the
 * contexts plus the questions need 73% of the cluster's KV cache, about six times what one pod holds), with every
 * length scaled by the ratio of a simulated pod's KV cache to the benchmark's (16,384 / 307,328 tokens, about 1/19):
 *
 * <ul>
 *   <li>{@value #CUSTOMERS} customers, each with a system prompt of {@value #PREFIX_TOKENS} tokens;
 *   <li>{@value #USERS_PER_CUSTOMER} users per customer, each with a question of {@value #QUESTION_TOKENS} tokens;
 *       a user's request is a chat of the customer's system prompt and the user's question, as the benchmark's
 *       generator (inference-perf {@code shared_prefix}, multi-turn off) sends it: the user pairs are shuffled once
 *       and then sent in turn, over and over, so each is sent again after all the others;
 *   <li>{@code max_tokens} {@value #OUTPUT_TOKENS};
 *   <li>besides, with probability {@value #UNIQUE_FRACTION}, a request is a completions request with a unique prompt
 *       as long as a chat's, which no cache can serve.
 * </ul>
 *
 * <p>So the prompts that recur need {@code 150 × (320 + 5 × 64) = 96,000} tokens, 73% of eight pods' 131,072, and
 * one pod holds a sixth of them: where a customer's requests go decides whether they hit. Requests arrive as a
 * Poisson process at {@code rate} per second. Text is random words, {@value SimulatedEngine#CHARS_PER_TOKEN}
 * characters per token.
 */
final class Workload {

  static final int CUSTOMERS = 150;
  static final int USERS_PER_CUSTOMER = 5;
  static final int PREFIX_TOKENS = 320;
  static final int QUESTION_TOKENS = 64;
  static final int OUTPUT_TOKENS = 53;
  static final double UNIQUE_FRACTION = 0.2;

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
   * @param reply the answer, {@code max_tokens} four-character words: what the simulated model generates
   */
  record Item(String id, long arrivalNanos, boolean chat, byte[] body, String reply) {

    /** The request path. */
    String path() {
      return chat ? "/v1/chat/completions" : "/v1/completions";
    }
  }

  /** A user: the customer's system prompt and the user's question. */
  private record User(String systemPrompt, String question) {}

  private final Random random;
  private final String model;
  private final List<User> users = new ArrayList<>(CUSTOMERS * USERS_PER_CUSTOMER);

  private Workload(long seed, String model) {
    this.random = new Random(seed);
    this.model = model;
    for (int c = 0; c < CUSTOMERS; c++) {
      String systemPrompt = text(random, "You are the assistant of customer #" + c + ". ", PREFIX_TOKENS);
      for (int u = 0; u < USERS_PER_CUSTOMER; u++) {
        users.add(new User(systemPrompt, text(random, "User #" + u + " asks: ", QUESTION_TOKENS)));
      }
    }
    Collections.shuffle(users, random);
  }

  /** {@code requests} requests for {@code model} arriving at {@code rate} per second, drawn from {@code seed}. */
  static List<Item> generate(int requests, double rate, long seed, String model) {
    return new Workload(seed, model).items(requests, rate);
  }

  private List<Item> items(int requests, double rate) {
    List<Item> items = new ArrayList<>(requests);
    double seconds = 0;
    int next = 0;
    for (int i = 0; i < requests; i++) {
      seconds += -Math.log(1 - random.nextDouble()) / rate;
      long now = (long) (seconds * 1e9);
      String id = "req-" + i;
      String reply = reply(random, OUTPUT_TOKENS);
      ObjectNode body = OpenAiRequest.JSON.createObjectNode().put("model", model).put("max_tokens", OUTPUT_TOKENS);
      if (random.nextDouble() < UNIQUE_FRACTION) {
        body.put("prompt", text(random, id + ": ", PREFIX_TOKENS + QUESTION_TOKENS));
        items.add(new Item(id, now, false, json(body), reply));
        continue;
      }
      User user = users.get(next);
      next = (next + 1) % users.size();
      body.putArray("messages")
          .add(OpenAiRequest.JSON.createObjectNode().put("role", "system").put("content", user.systemPrompt()))
          .add(OpenAiRequest.JSON.createObjectNode().put("role", "user").put("content", user.question()));
      items.add(new Item(id, now, true, json(body), reply));
    }
    return items;
  }

  /** {@code head} followed by words drawn from {@code random}, {@code tokens} tokens in all. */
  static String text(Random random, String head, int tokens) {
    int length = tokens * SimulatedEngine.CHARS_PER_TOKEN;
    StringBuilder text = new StringBuilder(length + 16).append(head);
    while (text.length() < length) {
      text.append(WORDS[random.nextInt(WORDS.length)]).append(' ');
    }
    text.setLength(length);
    return text.toString();
  }

  /** A reply of {@code tokens} four-character words drawn from {@code random}. */
  static String reply(Random random, int tokens) {
    StringBuilder text = new StringBuilder(tokens * SimulatedEngine.CHARS_PER_TOKEN);
    for (int i = 0; i < tokens; i++) {
      String word = WORDS[random.nextInt(WORDS.length)];
      text.append(word, 0, Math.min(3, word.length())).append(' ');
    }
    return text.toString();
  }

  /** The body's JSON bytes. */
  static byte[] json(ObjectNode body) {
    try {
      return OpenAiRequest.JSON.writeValueAsBytes(body);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
