package dev.epp.metrics.export;

import dev.epp.metrics.export.internal.BoundedHttpServer;
import dev.epp.metrics.export.internal.BoundedHttpServer.Request;
import dev.epp.metrics.export.internal.BoundedHttpServer.Response;
import java.io.BufferedWriter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ThreadFactory;
import java.util.function.Supplier;

/**
 * Serves a {@link MetricsRegistry} at {@code GET /metrics} in the Prometheus text format 0.0.4, as the Go EPP does
 * on its metrics port (default {@value #DEFAULT_PORT}), written the way Go's client writes it (sorted families and
 * series, Go number formatting, no {@code _created} series) so the page matches the Go EPP's line for line. Other
 * paths answer 404, methods other than GET and HEAD 405. A page that cannot be written answers 500.
 *
 * <p><b>Other pages.</b> {@link #start(InetSocketAddress, MetricsRegistry, String, Map)} serves more paths, each
 * a {@link Document} computed per request (e.g. a live page and its JSON), under the same rules: GET and HEAD only,
 * the same bearer token, the same limits; they are sent with {@code Cache-Control: no-store} and
 * {@code X-Content-Type-Options: nosniff}.
 *
 * <p><b>Authentication.</b> By default there is none: anyone who can reach the port can read the metrics. This
 * differs on purpose from the Go EPP, whose default ({@code --metrics-endpoint-auth=true}) validates the bearer token
 * with a Kubernetes TokenReview and so answers a first {@code curl} with {@code Unauthorized}. To protect the endpoint
 * pass a bearer token: requests without {@code Authorization: Bearer <token>}, or with another token, get 401 and a
 * body saying how to send it ({@code curl -H "Authorization: Bearer $TOKEN" http://host:9090/metrics}). Tokens are
 * compared in constant time.
 *
 * <p><b>Slow or hostile clients.</b> Served by a {@link BoundedHttpServer}: a client must send its request within
 * {@link #HEAD_TIMEOUT} and read the page within {@link #WRITE_TIMEOUT}, and one that connects and sends nothing or
 * half a request holds no thread and delays no other client. Pages are rendered by two threads, and only for
 * authorized requests.
 *
 * <p><b>Threading:</b> thread-safe.
 */
public final class MetricsExporter implements AutoCloseable {

  /** The Go EPP's metrics port. */
  public static final int DEFAULT_PORT = 9090;

  /** The path served. */
  public static final String PATH = "/metrics";

  /** How long a client has, from connecting, to send its request. */
  public static final Duration HEAD_TIMEOUT = Duration.ofSeconds(10);

  /** How long a client has to read a response. */
  public static final Duration WRITE_TIMEOUT = Duration.ofSeconds(30);

  private static final Response NOT_FOUND = Response.text(404, "404 page not found\n");
  private static final Response NOT_ALLOWED = new Response(405,
      Map.of("Content-Type", "text/plain; charset=utf-8", "Allow", "GET, HEAD"),
      ByteBuffer.wrap("405 method not allowed\n".getBytes(StandardCharsets.UTF_8)));
  private static final Response UNAUTHORIZED = new Response(401,
      Map.of("Content-Type", "text/plain; charset=utf-8", "WWW-Authenticate", "Bearer realm=\"epp-metrics\""),
      ByteBuffer.wrap(("Unauthorized: this /metrics endpoint requires a bearer token. Pass it as\n"
          + "  curl -H \"Authorization: Bearer $TOKEN\" http://<host>:<port>/metrics\n"
          + "where $TOKEN is the token the EPP was started with.\n").getBytes(StandardCharsets.UTF_8)));

  /**
   * A page served at another path.
   *
   * @param contentType its {@code Content-Type}, e.g. {@code application/json}
   * @param body its bytes; not modified afterwards
   */
  public record Document(String contentType, byte[] body) {

    /** Checks the components. */
    public Document {
      Objects.requireNonNull(contentType, "contentType");
      Objects.requireNonNull(body, "body");
    }
  }

  private final BoundedHttpServer server;

  private MetricsExporter(BoundedHttpServer server) {
    this.server = server;
  }

  /**
   * Starts serving {@code registry} on {@code address}, on daemon threads named {@code epp-metrics-exporter-N}.
   *
   * @param address where to listen; port 0 picks a free port (see {@link #port()})
   * @param bearerToken the token clients must send, or {@code null} for no authentication
   * @throws UncheckedIOException if the address cannot be bound
   */
  public static MetricsExporter start(InetSocketAddress address, MetricsRegistry registry, String bearerToken) {
    return start(address, registry, bearerToken, BoundedHttpServer.daemonThreads("epp-metrics-exporter"));
  }

  /**
   * {@link #start(InetSocketAddress, MetricsRegistry, String)}, also serving each of {@code routes}: a path (exact,
   * without query) to the supplier of its page, called on a rendering thread for each request. A supplier that
   * throws gets its client a 500. The paths in {@code withoutToken} are served without the bearer token: pages that
   * hold no data, such as a page whose script asks for the token before fetching any.
   *
   * @throws IllegalArgumentException if a path does not start with {@code /} or is {@value #PATH}, or a path of
   *     {@code withoutToken} is not one of {@code routes}
   */
  public static MetricsExporter start(InetSocketAddress address, MetricsRegistry registry, String bearerToken,
      Map<String, Supplier<Document>> routes, Set<String> withoutToken) {
    if (!routes.keySet().containsAll(withoutToken)) {
      throw new IllegalArgumentException("paths without token " + withoutToken + " are not all routes " + routes.keySet());
    }
    return start(address, registry, bearerToken, BoundedHttpServer.daemonThreads("epp-metrics-exporter"),
        HEAD_TIMEOUT, routes, withoutToken);
  }

  /**
   * {@link #start(InetSocketAddress, MetricsRegistry, String)} on threads made by {@code threads}: one accepting and
   * serving connections, two rendering pages. The exporter starts them and ends them on {@link #close()}.
   */
  public static MetricsExporter start(
      InetSocketAddress address, MetricsRegistry registry, String bearerToken, ThreadFactory threads) {
    return start(address, registry, bearerToken, threads, HEAD_TIMEOUT, Map.of(), Set.of());
  }

  /** {@link #start(InetSocketAddress, MetricsRegistry, String)} with another head timeout, for tests. */
  static MetricsExporter start(
      InetSocketAddress address, MetricsRegistry registry, String bearerToken, Duration headTimeout) {
    return start(address, registry, bearerToken, BoundedHttpServer.daemonThreads("epp-metrics-exporter"), headTimeout,
        Map.of(), Set.of());
  }

  private static MetricsExporter start(InetSocketAddress address, MetricsRegistry registry, String bearerToken,
      ThreadFactory threads, Duration headTimeout, Map<String, Supplier<Document>> routes, Set<String> withoutToken) {
    Objects.requireNonNull(address, "address");
    routes.forEach((path, page) -> {
      if (!path.startsWith("/") || path.equals(PATH)) {
        throw new IllegalArgumentException("cannot serve a page at " + path);
      }
      Objects.requireNonNull(page, path);
    });
    Objects.requireNonNull(registry, "registry");
    Objects.requireNonNull(threads, "threads");
    if (bearerToken != null && bearerToken.isBlank()) {
      throw new IllegalArgumentException("bearer token must not be blank");
    }
    Pages pages = new Pages(registry, bearerToken == null ? null : bearerToken.getBytes(StandardCharsets.UTF_8),
        Map.copyOf(routes), Set.copyOf(withoutToken));
    try {
      return new MetricsExporter(BoundedHttpServer.start(address, headTimeout, WRITE_TIMEOUT, threads, pages));
    } catch (UncheckedIOException e) {
      throw new UncheckedIOException("cannot listen for /metrics on " + address, e.getCause());
    }
  }

  /** The port listened on. */
  public int port() {
    return server.port();
  }

  /** Stops listening, letting a scrape in progress finish for up to one second. Idempotent. */
  @Override
  public void close() {
    server.close();
  }

  /** Answers requests: errors at once, pages on the server's pool. */
  private record Pages(MetricsRegistry registry, byte[] token, Map<String, Supplier<Document>> routes,
      Set<String> withoutToken) implements BoundedHttpServer.Handler {

    @Override
    public Response answer(Request request) {
      if (!request.path().equals(PATH) && !routes.containsKey(request.path())) {
        return NOT_FOUND;
      }
      if (!request.method().equals("GET") && !request.method().equals("HEAD")) {
        return NOT_ALLOWED;
      }
      if (token != null && !withoutToken.contains(request.path())
          && !authorized(request.headers().get("authorization"))) {
        return UNAUTHORIZED;
      }
      return null;
    }

    @Override
    public Response compute(Request request) {
      Supplier<Document> route = routes.get(request.path());
      if (route != null) {
        Document document = route.get();
        return new Response(200, Map.of("Content-Type", document.contentType(), "Cache-Control", "no-store",
            "X-Content-Type-Options", "nosniff"), ByteBuffer.wrap(document.body()));
      }
      Page page = new Page();
      try (Writer writer = new BufferedWriter(new OutputStreamWriter(page, StandardCharsets.UTF_8), 1 << 16)) {
        registry.writeTo(writer);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      return new Response(200, Map.of("Content-Type", MetricsRegistry.CONTENT_TYPE), page.contents());
    }

    private boolean authorized(String header) {
      if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
        return false;
      }
      byte[] presented = header.substring(7).strip().getBytes(StandardCharsets.UTF_8);
      return MessageDigest.isEqual(presented, token);
    }
  }

  /** A page being written, handed over without a copy. */
  private static final class Page extends ByteArrayOutputStream {
    Page() {
      super(64 * 1024);
    }

    ByteBuffer contents() {
      return ByteBuffer.wrap(buf, 0, count);
    }
  }
}
