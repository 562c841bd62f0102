package dev.epp.examples.gateway;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import dev.epp.examples.gateway.EndpointPicker.Decision;
import dev.epp.examples.gateway.EndpointPicker.Exchange;
import dev.epp.examples.gateway.EndpointPicker.Forward;
import dev.epp.examples.gateway.EndpointPicker.PickerException;
import dev.epp.examples.gateway.EndpointPicker.Reject;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A small HTTP/1.1 gateway doing for one machine what Envoy does in front of the EPP: for each request under
 * {@code /v1/} or {@code /health} it asks an {@link EndpointPicker} where to go, forwards the (possibly rewritten)
 * request to the first endpoint it names, trying the next ones only when a connection cannot be made, and relays the
 * response through the picker's response phases, event streams chunk by chunk.
 *
 * <p>What the client gets:
 *
 * <ul>
 *   <li>the upstream response with {@code x-gateway-destination-endpoint-served: ip:port}, in chunked encoding;
 *   <li>the picker's immediate response as it is (e.g. 400 or 429 with {@code inference error: <Code> - ...});
 *   <li>a JSON error {@code {"error":{"message","type","code"}}} from the gateway itself: 404 outside {@code /v1/}
 *       and {@code /health}, 413 for a body over the limit, 502 when no endpoint accepts a connection or the upstream
 *       fails before answering, 503 when the picker is unreachable, 504 when the picker does not answer in time, when
 *       no endpoint accepts a connection within the {@linkplain Builder#connectTimeout connect timeout} and one timed
 *       out, or when the upstream sends no response headers within the {@linkplain Builder#responseTimeout response
 *       timeout};
 *   <li>a dropped connection when something fails after the response headers were sent, as Envoy resets the stream,
 *       also when the upstream body stalls for longer than the response timeout.
 * </ul>
 *
 * <p>Requests under a prefix mounted with {@link Builder#handler(String, HttpHandler)} go to that handler instead.
 *
 * <p><b>Threading:</b> requests are served on a fixed pool of threads, one per request in flight (an event stream
 * holds its thread); more requests wait for a thread. {@link #close()} stops the listener, ends requests in flight
 * and closes the picker.
 */
public final class Gateway implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(Gateway.class);

  /** The default listening port. */
  public static final int DEFAULT_PORT = 8080;
  /** The default request body limit, 16 MiB, the EPP's own. */
  public static final int DEFAULT_MAX_REQUEST_BODY_BYTES = 16 << 20;
  /** The default time to connect to an endpoint, Envoy's default {@code connect_timeout}. */
  public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(5);
  /** The default time the upstream may be silent, as nginx's {@code proxy_read_timeout}. */
  public static final Duration DEFAULT_RESPONSE_TIMEOUT = Duration.ofSeconds(60);
  private static final long NOT_READING = Long.MIN_VALUE;

  private final EndpointPicker picker;
  private final int maxRequestBodyBytes;
  private final HttpServer server;
  private final ExecutorService executor;
  private final HttpClient upstream;
  private final Duration responseTimeout;
  /** Closes upstream bodies that stall; one thread for the gateway. */
  private final ScheduledExecutorService stallTimer;

  private Gateway(Builder builder) throws IOException {
    this.picker = builder.picker;
    this.maxRequestBodyBytes = builder.maxRequestBodyBytes;
    this.responseTimeout = builder.responseTimeout;
    this.upstream = HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(builder.connectTimeout)
        .followRedirects(HttpClient.Redirect.NEVER)
        .build();
    this.server = HttpServer.create(builder.address, 0);
    AtomicInteger threadCount = new AtomicInteger();
    this.executor = Executors.newFixedThreadPool(builder.threads, runnable -> {
      Thread thread = new Thread(runnable, "gateway-" + threadCount.incrementAndGet());
      thread.setDaemon(true);
      return thread;
    });
    server.createContext("/", this::handle);
    builder.handlers.forEach(server::createContext);
    server.setExecutor(executor);
    this.stallTimer = Executors.newSingleThreadScheduledExecutor(runnable -> {
      Thread thread = new Thread(runnable, "gateway-stall-timer");
      thread.setDaemon(true);
      return thread;
    });
    server.start();
  }

  /** A builder of a gateway routing with {@code picker}, which the gateway closes when it closes. */
  public static Builder builder(EndpointPicker picker) {
    return new Builder(picker);
  }

  /** The port the gateway listens on. */
  public int port() {
    return server.getAddress().getPort();
  }

  /** Stops listening, ends requests in flight and closes the picker. Idempotent. */
  @Override
  public void close() {
    server.stop(0);
    stallTimer.shutdownNow();
    executor.shutdownNow();
    try {
      executor.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    picker.close();
  }

  private void handle(HttpExchange http) throws IOException {
    String path = http.getRequestURI().getRawPath();
    if (!path.equals("/health") && !path.startsWith("/v1/")) {
      error(http, 404, "not_found", "no route for " + path + "; the gateway serves /v1/* and /health");
      return;
    }
    byte[] body = readBody(http);
    if (body == null) {
      error(http, 413, "request_too_large",
          "request body exceeds the limit of " + maxRequestBodyBytes + " bytes");
      return;
    }
    OutputStream client = http.getResponseBody();
    try (Exchange exchange = picker.open(chunk -> {
      client.write(chunk);
      client.flush();
    })) {
      Decision decision;
      try {
        decision = exchange.route(requestHeaders(http), body);
      } catch (PickerException e) {
        log.warn("Endpoint picker failed: {}", e.getMessage());
        error(http, e.httpStatus(), "endpoint_picker_error", e.getMessage());
        return;
      }
      if (decision instanceof Reject reject) {
        reject.headers().forEach((name, value) -> http.getResponseHeaders().set(name, value));
        http.sendResponseHeaders(reject.status(), reject.body().length == 0 ? -1 : reject.body().length);
        client.write(reject.body());
        http.close();
        return;
      }
      forward(http, (Forward) decision, exchange);
    }
  }

  /** Sends the request upstream and relays the response; throws to drop the connection once headers are sent. */
  private void forward(HttpExchange http, Forward forward, Exchange exchange) throws IOException {
    HttpResponse<InputStream> response = null;
    String served = null;
    String connectTimedOut = null;
    for (String endpoint : forward.endpoints()) {
      try {
        response = upstream.send(upstreamRequest(endpoint, forward), BodyHandlers.ofInputStream());
        served = endpoint;
        break;
      } catch (ConnectException | HttpConnectTimeoutException e) {
        log.info("Cannot connect to {}; trying the next endpoint: {}", endpoint, e.toString());
        if (e instanceof HttpConnectTimeoutException) {
          connectTimedOut = endpoint;
        }
      } catch (HttpTimeoutException e) {
        error(http, 504, "upstream_timeout",
            "upstream " + endpoint + " sent no response within " + millis(responseTimeout));
        return;
      } catch (IOException | IllegalArgumentException e) {
        error(http, 502, "upstream_error", "upstream " + endpoint + " failed: " + e);
        return;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted", e);
      }
    }
    if (response == null) {
      if (connectTimedOut != null) {
        error(http, 504, "upstream_timeout", "cannot connect to any endpoint of " + forward.endpoints() + "; "
            + connectTimedOut + " did not accept a connection within " + millis(upstream.connectTimeout().get()));
      } else {
        error(http, 502, "upstream_unreachable", "cannot connect to any endpoint of " + forward.endpoints());
      }
      return;
    }
    try (UpstreamBody body = new UpstreamBody(response.body())) {
      Map<String, String> headers;
      try {
        headers = exchange.responseHeaders(responseHeaders(response), served);
      } catch (PickerException e) {
        error(http, e.httpStatus(), "endpoint_picker_error", e.getMessage());
        return;
      }
      headers.forEach((name, value) -> {
        if (Headers.forwarded(name)) {
          http.getResponseHeaders().set(name, value);
        }
      });
      http.getResponseHeaders().set(Headers.DESTINATION_SERVED, served);
      int status = response.statusCode();
      boolean noBody = http.getRequestMethod().equals("HEAD") || status == 204 || status == 304;
      http.sendResponseHeaders(status, noBody ? -1 : 0);
      byte[] buffer = new byte[16 * 1024];
      for (int n; (n = body.read(buffer)) >= 0; ) {
        if (n > 0) {
          exchange.responseBody(Arrays.copyOf(buffer, n), false);
        }
      }
      exchange.responseBody(new byte[0], true);
      exchange.awaitResponseEnd();
    } catch (PickerException e) {
      throw new IOException("endpoint picker failed during the response: " + e.getMessage(), e);
    }
    http.close();
  }

  private HttpRequest upstreamRequest(String endpoint, Forward forward) {
    Map<String, String> headers = forward.headers();
    byte[] body = forward.body();
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://" + endpoint + headers.get(":path")))
        .timeout(responseTimeout)
        .method(headers.get(":method"), body.length == 0 ? BodyPublishers.noBody() : BodyPublishers.ofByteArray(body));
    headers.forEach((name, value) -> {
      if (Headers.forwarded(name)) {
        request.header(name, value);
      }
    });
    return request.build();
  }

  private static String millis(Duration duration) {
    return duration.toMillis() + " ms";
  }

  /**
   * An upstream response body whose reads are watched: a read that waits longer than the response timeout closes the
   * body and fails with {@link HttpTimeoutException}, so a stalled upstream does not hold a request thread forever.
   */
  private final class UpstreamBody implements AutoCloseable {
    private final InputStream in;
    private final ScheduledFuture<?> watch;
    /** When the read in progress started, or {@link #NOT_READING}. */
    private volatile long readSince = NOT_READING;
    private volatile boolean stalled;

    UpstreamBody(InputStream in) {
      this.in = in;
      long period = Math.max(1, responseTimeout.toNanos() / 4);
      this.watch = stallTimer.scheduleAtFixedRate(this::closeIfStalled, period, period, TimeUnit.NANOSECONDS);
    }

    int read(byte[] buffer) throws IOException {
      readSince = System.nanoTime();
      int n;
      try {
        n = in.read(buffer);
      } finally {
        readSince = NOT_READING;
      }
      if (stalled) {
        throw new HttpTimeoutException("the upstream sent nothing for " + millis(responseTimeout));
      }
      return n;
    }

    private void closeIfStalled() {
      long since = readSince;
      if (since != NOT_READING && System.nanoTime() - since >= responseTimeout.toNanos()) {
        stalled = true;
        close();
      }
    }

    @Override
    public void close() {
      watch.cancel(false);
      try {
        in.close();
      } catch (IOException e) {
        log.debug("Closing an upstream body failed: {}", e.toString());
      }
    }
  }

  /** The request body, or {@code null} if it is larger than the limit. */
  private byte[] readBody(HttpExchange http) throws IOException {
    String declared = http.getRequestHeaders().getFirst("Content-Length");
    if (declared != null) {
      try {
        if (Long.parseLong(declared.strip()) > maxRequestBodyBytes) {
          return null;
        }
      } catch (NumberFormatException e) {
        // the server has already rejected a malformed length; read what comes
      }
    }
    try (InputStream in = http.getRequestBody()) {
      byte[] body = in.readNBytes(maxRequestBodyBytes + 1);
      return body.length > maxRequestBodyBytes ? null : body;
    }
  }

  /** The request's headers as Envoy hands them to ext_proc: pseudo-headers first, names in lower case. */
  private static Map<String, String> requestHeaders(HttpExchange http) {
    URI uri = http.getRequestURI();
    Map<String, String> headers = new LinkedHashMap<>();
    headers.put(":method", http.getRequestMethod());
    headers.put(":path", uri.getRawQuery() == null ? uri.getRawPath() : uri.getRawPath() + "?" + uri.getRawQuery());
    String host = http.getRequestHeaders().getFirst("Host");
    headers.put(":authority", host != null ? host : http.getLocalAddress().getHostString());
    headers.put(":scheme", "http");
    http.getRequestHeaders().forEach((name, values) -> headers.put(name.toLowerCase(Locale.ROOT), String.join(",", values)));
    return headers;
  }

  private static Map<String, String> responseHeaders(HttpResponse<?> response) {
    Map<String, String> headers = new LinkedHashMap<>();
    headers.put(":status", Integer.toString(response.statusCode()));
    response.headers().map().forEach((name, values) -> {
      String key = name.toLowerCase(Locale.ROOT);
      if (!key.startsWith(":")) {
        headers.put(key, String.join(",", values));
      }
    });
    return headers;
  }

  /**
   * Answers with the gateway's own error, {@code {"error":{"message":...,"type":...,"code":status}}}, and closes the
   * exchange; also for {@linkplain Builder#handler mounted handlers}, so that the gateway's errors have one shape.
   */
  public static void error(HttpExchange http, int status, String type, String message) throws IOException {
    byte[] json = ("{\"error\":{\"message\":" + quote(message) + ",\"type\":" + quote(type) + ",\"code\":" + status
        + "}}").getBytes(StandardCharsets.UTF_8);
    http.getResponseHeaders().set("content-type", "application/json");
    http.sendResponseHeaders(status, json.length);
    http.getResponseBody().write(json);
    http.close();
  }

  private static String quote(String s) {
    StringBuilder sb = new StringBuilder("\"");
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        default -> {
          if (c < 0x20) {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    return sb.append('"').toString();
  }

  /** Builds and starts {@link Gateway}s. Not thread-safe. */
  public static final class Builder {
    private final EndpointPicker picker;
    private InetSocketAddress address = new InetSocketAddress(DEFAULT_PORT);
    private int maxRequestBodyBytes = DEFAULT_MAX_REQUEST_BODY_BYTES;
    private int threads = 64;
    private Duration connectTimeout = DEFAULT_CONNECT_TIMEOUT;
    private Duration responseTimeout = DEFAULT_RESPONSE_TIMEOUT;
    private final Map<String, HttpHandler> handlers = new LinkedHashMap<>();

    private Builder(EndpointPicker picker) {
      this.picker = Objects.requireNonNull(picker, "picker");
    }

    /** Where to listen; default all interfaces, port {@value #DEFAULT_PORT}; port 0 picks a free port. */
    public Builder address(InetSocketAddress value) {
      this.address = Objects.requireNonNull(value);
      return this;
    }

    /** The largest request body accepted; larger ones get 413. Default 16 MiB. */
    public Builder maxRequestBodyBytes(int value) {
      if (value < 0 || value == Integer.MAX_VALUE) {
        throw new IllegalArgumentException("maxRequestBodyBytes out of range: " + value);
      }
      this.maxRequestBodyBytes = value;
      return this;
    }

    /** How many requests are served at once; default 64. */
    public Builder threads(int value) {
      if (value < 1) {
        throw new IllegalArgumentException("threads must be positive: " + value);
      }
      this.threads = value;
      return this;
    }

    /** How long to wait for a connection to an endpoint before trying the next; default 5 s. */
    public Builder connectTimeout(Duration value) {
      this.connectTimeout = positive(value, "connectTimeout");
      return this;
    }

    /**
     * How long the upstream may be silent: before its response headers (the client then gets 504) and during each
     * read of its body (the client's connection is then dropped, within a quarter of this more); default 60 s. A
     * response that keeps sending may take longer.
     */
    public Builder responseTimeout(Duration value) {
      this.responseTimeout = positive(value, "responseTimeout");
      return this;
    }

    private static Duration positive(Duration value, String name) {
      if (value.isNegative() || value.isZero()) {
        throw new IllegalArgumentException(name + " must be positive: " + value);
      }
      return value;
    }

    /**
     * Mounts {@code handler} for the requests whose path starts with {@code pathPrefix}, such as a control endpoint
     * next to the routed traffic; it runs on the gateway's request threads and must close each exchange.
     *
     * @param pathPrefix starts and ends with {@code /}, and is neither {@code /} nor under {@code /v1/}, which stays
     *     routed through the picker
     * @throws IllegalArgumentException for such a prefix, or one already mounted
     */
    public Builder handler(String pathPrefix, HttpHandler handler) {
      Objects.requireNonNull(handler, "handler");
      if (pathPrefix.length() < 2 || !pathPrefix.startsWith("/") || !pathPrefix.endsWith("/")
          || pathPrefix.startsWith("/v1/")) {
        throw new IllegalArgumentException("invalid handler path prefix '" + pathPrefix
            + "': must be /<name>/ and outside /v1/");
      }
      if (handlers.putIfAbsent(pathPrefix, handler) != null) {
        throw new IllegalArgumentException("a handler is already mounted at " + pathPrefix);
      }
      return this;
    }

    /**
     * Starts the gateway.
     *
     * @throws IOException if the address cannot be bound; the picker is then closed
     */
    public Gateway start() throws IOException {
      try {
        return new Gateway(this);
      } catch (IOException | RuntimeException e) {
        picker.close();
        throw e;
      }
    }
  }
}
