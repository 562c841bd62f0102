package dev.epp.examples.gateway;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A tiny OpenAI-style model server on 127.0.0.1, port 0: {@code POST /v1/completions} answers JSON naming the
 * instance ({@code "served_by"}), or with {@code "stream": true} an event stream of {@link #EVENTS} events and
 * {@code [DONE]}; {@code GET /health} answers 200; {@code GET /metrics} serves vLLM metrics with an empty queue.
 *
 * <p>Each event after the first is sent only once the test calls {@link #release}, so a test can prove the client saw
 * an event before the next one was written; unreleased for 10 s, the stream ends short.
 */
public final class ModelServer implements AutoCloseable {

  static final int EVENTS = 3;

  /** A request as the server received it. */
  public record Received(String method, String path, Map<String, String> headers, String body) {}

  public final String name;
  public final List<Received> received = new CopyOnWriteArrayList<>();
  private final List<CountDownLatch> gates = new CopyOnWriteArrayList<>();
  private final CountDownLatch scrapes = new CountDownLatch(2);
  private final HttpServer server;

  public ModelServer(String name) {
    this.name = name;
    for (int i = 0; i < EVENTS; i++) {
      gates.add(new CountDownLatch(1));
    }
    try {
      server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    server.createContext("/", this::handle);
    server.start();
  }

  public int port() {
    return server.getAddress().getPort();
  }

  public String hostPort() {
    return "127.0.0.1:" + port();
  }

  /**
   * Waits until a scraper has polled {@code /metrics} twice: a scraper asks again only after handling the first
   * answer, so the server's metrics have then reached the pool.
   */
  public void awaitScraped() throws InterruptedException {
    if (!scrapes.await(20, TimeUnit.SECONDS)) {
      throw new AssertionError(name + " was not scraped twice within 20 s");
    }
  }

  /** Lets the server write event {@code index} (1-based, after the first) of the current stream. */
  void release(int index) {
    gates.get(index).countDown();
  }

  @Override
  public void close() {
    server.stop(0);
  }

  private void handle(HttpExchange http) throws IOException {
    String body = new String(http.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
    String path = http.getRequestURI().getPath();
    Map<String, String> headers = new LinkedHashMap<>();
    http.getRequestHeaders().forEach((k, v) -> headers.put(k.toLowerCase(Locale.ROOT), String.join(",", v)));
    if (path.equals("/metrics")) {
      scrapes.countDown();
    } else {
      received.add(new Received(http.getRequestMethod(), path, headers, body));
    }
    http.getResponseHeaders().set("x-served-by", name);
    switch (path) {
      case "/metrics" -> send(http, 200, "text/plain", """
          # TYPE vllm:num_requests_waiting gauge
          vllm:num_requests_waiting{model_name="m"} 0
          # TYPE vllm:num_requests_running gauge
          vllm:num_requests_running{model_name="m"} 0
          # TYPE vllm:kv_cache_usage_perc gauge
          vllm:kv_cache_usage_perc{model_name="m"} 0.1
          """);
      case "/health" -> send(http, 200, "text/plain", "ok " + name);
      case "/v1/completions" -> {
        if (body.replace(" ", "").contains("\"stream\":true")) {
          stream(http);
        } else {
          send(http, 200, "application/json", "{\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"served_by\":\""
              + name + "\",\"choices\":[{\"text\":\"hello\"}],"
              + "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4}}");
        }
      }
      default -> send(http, 404, "text/plain", "no such path");
    }
  }

  private void stream(HttpExchange http) throws IOException {
    http.getResponseHeaders().set("content-type", "text/event-stream");
    http.sendResponseHeaders(200, 0);
    try (OutputStream out = http.getResponseBody()) {
      for (int i = 0; i < EVENTS; i++) {
        if (i > 0) {
          try {
            if (!gates.get(i).await(10, TimeUnit.SECONDS)) {
              return; // never released: the stream ends short, which the test sees
            }
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
          }
        }
        String event = "data: {\"object\":\"text_completion\",\"served_by\":\"" + name + "\",\"index\":" + i
            + ",\"choices\":[{\"text\":\"t" + i + "\"}]}\n\n";
        out.write(event.getBytes(StandardCharsets.UTF_8));
        out.flush();
      }
      out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
    }
  }

  private static void send(HttpExchange http, int status, String type, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    http.getResponseHeaders().set("content-type", type);
    http.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = http.getResponseBody()) {
      out.write(bytes);
    }
  }
}
