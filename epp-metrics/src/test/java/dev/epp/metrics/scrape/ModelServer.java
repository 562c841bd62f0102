package dev.epp.metrics.scrape;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A model server on loopback for tests: serves {@code /metrics} with a page that can be replaced at any time, or
 * misbehaves in one of the ways real servers do.
 */
final class ModelServer implements AutoCloseable {

  enum Mode {
    /** 200 with the current page. */
    OK,
    /** 500 with a short body. */
    ERROR_500,
    /** Accepts the request and never answers. */
    HANG,
    /** 200 with 10 MB of random bytes. */
    JUNK_10MB,
    /** 200 with a chunked body that never ends. */
    ENDLESS,
    /** 200 with the current page gzip-compressed, whatever the request accepts. */
    GZIP
  }

  private final HttpServer server;
  private final ExecutorService executor = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "model-server");
    t.setDaemon(true);
    return t;
  });
  private final AtomicReference<byte[]> page = new AtomicReference<>(new byte[0]);
  private final AtomicReference<Mode> mode = new AtomicReference<>(Mode.OK);
  private final AtomicInteger requests = new AtomicInteger();
  private final AtomicReference<String> acceptEncoding = new AtomicReference<>();
  private final List<Thread> hung = new ArrayList<>();

  ModelServer(String page) {
    try {
      server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    page(page);
    server.setExecutor(executor);
    server.createContext("/", exchange -> {
      requests.incrementAndGet();
      acceptEncoding.set(String.valueOf(exchange.getRequestHeaders().getFirst("Accept-Encoding")));
      if (!exchange.getRequestURI().getPath().endsWith("/metrics")) {
        exchange.sendResponseHeaders(404, -1);
        exchange.close();
        return;
      }
      switch (mode.get()) {
        case OK -> {
          byte[] body = this.page.get();
          exchange.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
          exchange.sendResponseHeaders(200, body.length);
          try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
          }
        }
        case ERROR_500 -> {
          byte[] body = "Internal Server Error\n".getBytes(StandardCharsets.US_ASCII);
          exchange.sendResponseHeaders(500, body.length);
          try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
          }
        }
        case HANG -> {
          synchronized (hung) {
            hung.add(Thread.currentThread());
          }
          try {
            Thread.sleep(Long.MAX_VALUE);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
        case JUNK_10MB -> {
          byte[] junk = new byte[10_000_000];
          new java.util.Random(exchange.hashCode()).nextBytes(junk);
          exchange.sendResponseHeaders(200, junk.length);
          try (OutputStream out = exchange.getResponseBody()) {
            out.write(junk);
          } catch (IOException e) {
            // the scraper may give up before the end
          }
        }
        case GZIP -> {
          java.io.ByteArrayOutputStream compressed = new java.io.ByteArrayOutputStream();
          try (OutputStream gzip = new java.util.zip.GZIPOutputStream(compressed)) {
            gzip.write(this.page.get());
          }
          exchange.getResponseHeaders().set("Content-Encoding", "gzip");
          exchange.sendResponseHeaders(200, compressed.size());
          try (OutputStream out = exchange.getResponseBody()) {
            compressed.writeTo(out);
          }
        }
        case ENDLESS -> {
          exchange.sendResponseHeaders(200, 0);
          byte[] chunk = "# ".concat("x".repeat(8190)).concat("\n").getBytes(StandardCharsets.US_ASCII);
          try (OutputStream out = exchange.getResponseBody()) {
            while (true) {
              out.write(chunk);
            }
          } catch (IOException e) {
            // the scraper hung up
          }
        }
      }
    });
    server.start();
  }

  void page(String text) {
    page.set(text.getBytes(StandardCharsets.UTF_8));
  }

  void mode(Mode mode) {
    this.mode.set(mode);
  }

  int port() {
    return server.getAddress().getPort();
  }

  int requests() {
    return requests.get();
  }

  /** How many requests are hanging in {@link Mode#HANG}. */
  int hanging() {
    synchronized (hung) {
      return hung.size();
    }
  }

  /** The {@code Accept-Encoding} of the latest request ("null" if it had none). */
  String acceptEncoding() {
    return acceptEncoding.get();
  }

  @Override
  public void close() {
    synchronized (hung) {
      hung.forEach(Thread::interrupt);
    }
    server.stop(0);
    executor.shutdownNow();
  }

  /** A vLLM page with the given routing values, in the shape vLLM writes. */
  static String vllmPage(int waiting, int running, double kv) {
    String labels = "{engine=\"0\",model_name=\"meta-llama/Llama-3.1-8B-Instruct\"}";
    return "# HELP vllm:num_requests_running Number of requests in model execution batches.\n"
        + "# TYPE vllm:num_requests_running gauge\n"
        + "vllm:num_requests_running" + labels + " " + (double) running + "\n"
        + "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.\n"
        + "# TYPE vllm:num_requests_waiting gauge\n"
        + "vllm:num_requests_waiting" + labels + " " + (double) waiting + "\n"
        + "# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.\n"
        + "# TYPE vllm:kv_cache_usage_perc gauge\n"
        + "vllm:kv_cache_usage_perc" + labels + " " + kv + "\n";
  }

  /**
   * A raw TCP server that accepts connections and resets them at once (RST, via SO_LINGER 0), like a crashing
   * model server.
   */
  static final class Resetting implements AutoCloseable {
    private final ServerSocket socket;
    private final Thread acceptor;

    Resetting() throws IOException {
      socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      acceptor = new Thread(() -> {
        while (!socket.isClosed()) {
          try (Socket s = socket.accept()) {
            s.setSoLinger(true, 0);
          } catch (IOException e) {
            // closed
          }
        }
      }, "resetting-server");
      acceptor.setDaemon(true);
      acceptor.start();
    }

    int port() {
      return socket.getLocalPort();
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }
}
