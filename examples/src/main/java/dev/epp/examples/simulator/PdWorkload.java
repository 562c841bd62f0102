package dev.epp.examples.simulator;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A reproducible open-loop workload for prefill/decode disaggregation: prefill-heavy long prompts with short answers,
 * mixed with short chats whose longer answers are what decode latency is felt on.
 *
 * <ul>
 *   <li>with probability {@code 1 − }{@value #CHAT_FRACTION}, a question about a document: one of
 *       {@value #DOCUMENTS} documents of {@value #MIN_DOCUMENT_TOKENS} to {@value #MAX_DOCUMENT_TOKENS} tokens
 *       (uniform, drawn once per document) followed by a unique question of {@value Workload#QUESTION_TOKENS}
 *       tokens, answered in {@value #DOCUMENT_OUTPUT_TOKENS} tokens ({@code max_tokens}); documents are picked
 *       uniformly, so a document recurs about every {@code DOCUMENTS / 0.7} requests;
 *   <li>otherwise a short chat: a unique prompt of {@value #CHAT_TOKENS} tokens answered in
 *       {@value #CHAT_OUTPUT_TOKENS} tokens.
 * </ul>
 *
 * <p>The lengths are kept where prefill dominates rather than scaled down with the simulated pods' KV cache (16,384
 * tokens, about 1/19 of a production GPU's): scaled like the other workloads, a document would prefill in 10 ms and
 * there would be nothing to disaggregate. At 100 µs per token a document's prefill takes 100 to 200 ms, as long as 10
 * to 20 of its answer's decode steps, and a pod's cache holds about eight documents besides its running requests. The
 * {@value #DOCUMENTS} documents (about 307,000 tokens) need 2.3 times the eight pods' cache, so about a third of the
 * prompt tokens can hit, and only where a document's earlier requests went. Requests arrive as a Poisson process at
 * {@code rate} per second.
 */
final class PdWorkload {

  static final int DOCUMENTS = 200;
  static final int MIN_DOCUMENT_TOKENS = 1024;
  static final int MAX_DOCUMENT_TOKENS = 2048;
  static final int DOCUMENT_OUTPUT_TOKENS = 32;
  static final double CHAT_FRACTION = 0.3;
  static final int CHAT_TOKENS = 128;
  static final int CHAT_OUTPUT_TOKENS = 128;

  private PdWorkload() {}

  /** {@code requests} requests for {@code model} arriving at {@code rate} per second, drawn from {@code seed}. */
  static List<Workload.Item> generate(int requests, double rate, long seed, String model) {
    Random random = new Random(seed);
    List<String> documents = new ArrayList<>(DOCUMENTS);
    for (int d = 0; d < DOCUMENTS; d++) {
      int tokens = MIN_DOCUMENT_TOKENS + random.nextInt(MAX_DOCUMENT_TOKENS - MIN_DOCUMENT_TOKENS + 1);
      documents.add(Workload.text(random, "Document #" + d + ". ", tokens));
    }
    List<Workload.Item> items = new ArrayList<>(requests);
    double seconds = 0;
    for (int i = 0; i < requests; i++) {
      seconds += -Math.log(1 - random.nextDouble()) / rate;
      String id = "req-" + i;
      boolean chat = random.nextDouble() < CHAT_FRACTION;
      int outputTokens = chat ? CHAT_OUTPUT_TOKENS : DOCUMENT_OUTPUT_TOKENS;
      ObjectNode body = OpenAiRequest.JSON.createObjectNode().put("model", model).put("max_tokens", outputTokens);
      var messages = body.putArray("messages");
      if (chat) {
        messages.add(message("user", Workload.text(random, id + ": ", CHAT_TOKENS)));
      } else {
        messages.add(message("system", documents.get(random.nextInt(DOCUMENTS))))
            .add(message("user", Workload.text(random, id + " asks: ", Workload.QUESTION_TOKENS)));
      }
      items.add(new Workload.Item(id, (long) (seconds * 1e9), true, Workload.json(body),
          Workload.reply(random, outputTokens)));
    }
    return items;
  }

  private static ObjectNode message(String role, String content) {
    return OpenAiRequest.JSON.createObjectNode().put("role", role).put("content", content);
  }
}
