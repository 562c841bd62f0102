package dev.epp.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.prometheus.client.CollectorRegistry;
import dev.epp.metrics.internal.GoTextFormat;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Collections;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * Serves a {@link CollectorRegistry} at {@code GET /metrics} in the Prometheus text format 0.0.4, as the Go EPP does
 * on its metrics port (default {@value #DEFAULT_PORT}), written the way Go's client writes it (sorted families and
 * series, Go number formatting, no {@code _created} series) so the page matches the Go EPP's line for line. Other
 * paths answer 404, methods other than GET and HEAD 405.
 *
 * <p><b>Authentication.</b> By default there is none: anyone who can reach the port can read the metrics. This
 * differs on purpose from the Go EPP, whose default ({@code --metrics-endpoint-auth=true}) validates the bearer token
 * with a Kubernetes TokenReview and so answers a first {@code curl} with {@code Unauthorized}. To protect the endpoint
 * pass a bearer token: requests without {@code Authorization: Bearer <token>}, or with another token, get 401 and a
 * body saying how to send it ({@code curl -H "Authorization: Bearer $TOKEN" http://host:9090/metrics}). Tokens are
 * compared in constant time.
 *
 * <p><b>Threading:</b> thread-safe; requests are served by one daemon thread.
 */
public final class MetricsExporter implements AutoCloseable {

  /** The Go EPP's metrics port. */
  public static final int DEFAULT_PORT = 9090;

  /** The path served. */
  public static final String PATH = "/metrics";

  private final HttpServer server;
  private final ExecutorService executor;
  private final CollectorRegistry registry;
  private final byte[] token;

  private MetricsExporter(HttpServer server, ExecutorService executor, CollectorRegistry registry, String token) {
    this.server = server;
    this.executor = executor;
    this.registry = registry;
    this.token = token == null ? null : token.getBytes(StandardCharsets.UTF_8);
  }

  /**
   * Starts serving {@code registry} on {@code address}.
   *
   * @param address where to listen; port 0 picks a free port (see {@link #port()})
   * @param bearerToken the token clients must send, or {@code null} for no authentication
   * @throws UncheckedIOException if the address cannot be bound
   */
  public static MetricsExporter start(InetSocketAddress address, CollectorRegistry registry, String bearerToken) {
    Objects.requireNonNull(address, "address");
    Objects.requireNonNull(registry, "registry");
    if (bearerToken != null && bearerToken.isBlank()) {
      throw new IllegalArgumentException("bearer token must not be blank");
    }
    HttpServer server;
    try {
      server = HttpServer.create(address, 0);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot listen for /metrics on " + address, e);
    }
    ExecutorService executor = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "epp-metrics-exporter");
      t.setDaemon(true);
      return t;
    });
    MetricsExporter exporter = new MetricsExporter(server, executor, registry, bearerToken);
    server.setExecutor(executor);
    server.createContext("/", exporter::handle);
    server.start();
    return exporter;
  }

  /** The port listened on. */
  public int port() {
    return server.getAddress().getPort();
  }

  /** Stops listening, letting a scrape in progress finish for up to one second. Idempotent. */
  @Override
  public void close() {
    executor.shutdown(); // finish the exchange in progress; later ones are refused
    try {
      executor.awaitTermination(1, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    server.stop(0); // JDK 17's stop(n) always waits n seconds, so the wait is done above
    executor.shutdownNow();
  }

  private void handle(HttpExchange exchange) throws IOException {
    try (exchange) {
      if (!exchange.getRequestURI().getPath().equals(PATH)) {
        reply(exchange, 404, "text/plain; charset=utf-8", "404 page not found\n");
        return;
      }
      if (!exchange.getRequestMethod().equals("GET") && !exchange.getRequestMethod().equals("HEAD")) {
        exchange.getResponseHeaders().set("Allow", "GET, HEAD");
        reply(exchange, 405, "text/plain; charset=utf-8", "405 method not allowed\n");
        return;
      }
      if (token != null && !authorized(exchange.getRequestHeaders().getFirst("Authorization"))) {
        exchange.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"epp-metrics\"");
        reply(exchange, 401, "text/plain; charset=utf-8",
            "Unauthorized: this /metrics endpoint requires a bearer token. Pass it as\n"
                + "  curl -H \"Authorization: Bearer $TOKEN\" http://<host>:<port>/metrics\n"
                + "where $TOKEN is the token the EPP was started with.\n");
        return;
      }
      ByteArrayOutputStream body = new ByteArrayOutputStream(16 * 1024);
      try (Writer writer = new OutputStreamWriter(body, StandardCharsets.UTF_8)) {
        GoTextFormat.write(writer, Collections.list(registry.metricFamilySamples()));
      }
      exchange.getResponseHeaders().set("Content-Type", GoTextFormat.CONTENT_TYPE);
      boolean head = exchange.getRequestMethod().equals("HEAD");
      exchange.sendResponseHeaders(200, head ? -1 : body.size());
      if (!head) {
        try (OutputStream out = exchange.getResponseBody()) {
          body.writeTo(out);
        }
      }
    }
  }

  private boolean authorized(String header) {
    if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return false;
    }
    byte[] presented = header.substring(7).strip().getBytes(StandardCharsets.UTF_8);
    return MessageDigest.isEqual(presented, token);
  }

  private static void reply(HttpExchange exchange, int status, String contentType, String text) throws IOException {
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", contentType);
    exchange.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }
}
