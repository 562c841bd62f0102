package dev.epp.bench;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.MetricsRecorder;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.scheduler.EndpointPool;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/** Realistic inputs shared by the benchmarks, generated from a fixed seed. */
final class Workloads {

  private Workloads() {}

  /**
   * The configuration named {@code name}: {@code default} (the built-in one), {@code optimized} (llm-d's optimized
   * baseline, {@code examples/configs/optimized-baseline.yaml} as shipped; {@code optimized-sticky} too),
   * {@code pd} (llm-d's prefill/decode sample, {@code examples/configs/pd.yaml} as shipped: for a {@link #pdPool}) or
   * {@code random} (only {@code random-picker}, the framework's fixed cost without scoring), recording to
   * {@code metrics}.
   */
  static EndpointPickerConfig config(String name, MetricsRecorder metrics) {
    EndpointPickerConfig.Loader loader = EndpointPickerConfig.loader().metrics(metrics);
    return switch (name) {
      case "default" -> loader.defaults();
      case "optimized", "optimized-sticky" -> loader.parse(resource("optimized-baseline.yaml"), "optimized-baseline.yaml");
      case "pd" -> loader.parse(resource("pd.yaml"), "pd.yaml");
      case "random" -> loader.parse("""
          apiVersion: inference.networking.x-k8s.io/v1alpha1
          kind: EndpointPickerConfig
          plugins:
          - type: random-picker
          """, "random");
      default -> throw new IllegalArgumentException("unknown configuration " + name);
    };
  }

  /** The text of this package's resource {@code name}. */
  static String resource(String name) {
    try (InputStream in = Workloads.class.getResourceAsStream(name)) {
      if (in == null) {
        throw new IllegalStateException("no resource " + name + " beside " + Workloads.class.getName());
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A pool of {@code n} pods with skewed (Zipf-like) queues, random KV use and a few LoRA adapters. */
  static EndpointPool pool(int n) {
    return pool(n, false);
  }

  /** A {@link #pool} whose every fourth pod is labelled {@code llm-d.ai/role: prefill}, the others {@code decode}. */
  static EndpointPool pdPool(int n) {
    return pool(n, true);
  }

  private static EndpointPool pool(int n, boolean roles) {
    Random random = new Random(42);
    EndpointPool pool = new EndpointPool();
    for (int i = 0; i < n; i++) {
      String name = "pod-" + i + "-rank-0";
      Map<String, String> labels = roles ? Map.of("llm-d.ai/role", i % 4 == 0 ? "prefill" : "decode") : Map.of();
      pool.upsert(new Endpoint(name, "10.0." + (i / 250) + "." + (i % 250 + 1), 8000, labels));
      pool.updateMetrics(name, EndpointMetrics.builder()
          .waitingQueueSize(50 / (1 + random.nextInt(n)))
          .runningRequests(random.nextInt(64))
          .kvCacheUsage(random.nextDouble())
          .activeModels(i % 7 == 0 ? Set.of("adapter-a") : Set.of())
          .maxActiveModels(4)
          .cacheBlockSize(16)
          .cacheNumBlocks(40_000)
          .updatedNanos(System.nanoTime())
          .build());
    }
    return pool;
  }

  /** English-like text of exactly {@code chars} ASCII characters. */
  static String text(int chars, long seed) {
    String[] words = {"the", "model", "server", "routes", "each", "request", "to", "a", "pod", "with", "cached",
        "prefix", "blocks", "and", "short", "queues", "so", "latency", "stays", "low"};
    Random random = new Random(seed);
    StringBuilder sb = new StringBuilder(chars + 16);
    while (sb.length() < chars) {
      sb.append(words[random.nextInt(words.length)]).append(' ');
    }
    sb.setLength(chars);
    return sb.toString();
  }

  /** A chat completions body whose size is dominated by a {@code promptChars}-character user message. */
  static byte[] chatBody(String model, String systemPrompt, String userPrompt) {
    String json = "{\"model\":\"" + model + "\",\"stream\":false,\"max_tokens\":128,\"messages\":["
        + "{\"role\":\"system\",\"content\":\"" + systemPrompt + "\"},"
        + "{\"role\":\"user\",\"content\":\"" + userPrompt + "\"}]}";
    return json.getBytes(StandardCharsets.UTF_8);
  }

  /** The chat request every full-request benchmark sends: an 800-character user message. */
  static byte[] chatRequest() {
    return chatBody("llama", "You are a helpful assistant.", text(800, 3));
  }

  /**
   * An agent's chat request of exactly {@code bodyBytes} bytes (at least 200): a system prompt, then user, assistant and
   * tool messages of about 4,000 characters each, as a long agentic conversation is, with the JSON escapes
   * ({@code \\n}, {@code \\"}) such text carries. At four characters per token, 400,000 bytes are about 100k tokens.
   */
  static byte[] chatRequest(int bodyBytes) {
    String[] roles = {"user", "assistant", "tool"};
    StringBuilder json = new StringBuilder(bodyBytes + 64)
        .append("{\"model\":\"llama\",\"stream\":false,\"max_tokens\":128,\"messages\":[")
        .append("{\"role\":\"system\",\"content\":\"You are a coding agent. Use the tools.\"}");
    int turn = 0;
    for (; bodyBytes - json.length() > 8_200; turn++) {
      json.append(",{\"role\":\"").append(roles[turn % roles.length]).append("\",\"content\":\"")
          .append(text(4_000, turn).replace("pod ", "\\\"pod\\\"\\n")).append("\"}");
    }
    json.append(",{\"role\":\"user\",\"content\":\"");
    String end = "\"}]}";
    int room = bodyBytes - json.length() - end.length();
    if (room < 1) {
      throw new IllegalArgumentException("a chat request of " + bodyBytes + " bytes cannot be built");
    }
    return json.append(text(room, turn)).append(end).toString().getBytes(StandardCharsets.UTF_8);
  }

  /** A non-streamed chat completion answering {@link #chatRequest()}, with usage. */
  static byte[] chatResponse() {
    return ("{\"object\":\"chat.completion\",\"choices\":[{\"message\":{\"role\":\"assistant\","
        + "\"content\":\"Hello!\"}}],\"usage\":{\"prompt_tokens\":210,\"completion_tokens\":3,\"total_tokens\":213}}")
        .getBytes(StandardCharsets.UTF_8);
  }
}
