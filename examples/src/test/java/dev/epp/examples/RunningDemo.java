package dev.epp.examples;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The {@code demo} command running in this process on free ports, for tests of what it serves; {@link #close()}
 * stops it.
 */
final class RunningDemo implements AutoCloseable {

  static final String MODEL = "meta-llama/Llama-3.1-8B-Instruct";
  private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(20);

  private final DemoCommand command;
  private final CompletableFuture<Integer> exit;
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();
  private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  final DemoCommand.Ports ports;

  RunningDemo() throws InterruptedException, ExecutionException, TimeoutException {
    command = new DemoCommand(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    exit = CompletableFuture.supplyAsync(() -> command.run(new String[] {
        "--gateway-port", "0", "--grpc-port", "0", "--grpc-health-port", "0", "--metrics-port", "0",
        "--first-pod-port", "0", "--kv-events-port", "0"}));
    ports = command.started().get(30, TimeUnit.SECONDS);
    if (ports == null) {
      throw new IllegalStateException("demo did not start: " + err.toString(StandardCharsets.UTF_8));
    }
  }

  /** {@code path} on the EPP's metrics port. */
  URI metrics(String path) {
    return URI.create("http://127.0.0.1:" + ports.metrics() + path);
  }

  /** GETs {@code path} from the metrics port. */
  HttpResponse<String> get(String path) throws IOException, InterruptedException {
    return client.send(HttpRequest.newBuilder(metrics(path)).timeout(REQUEST_TIMEOUT).build(),
        BodyHandlers.ofString());
  }

  /** A completion of {@code prompt} for {@code model} through the gateway. */
  HttpResponse<String> complete(String model, String prompt, int maxTokens) throws IOException, InterruptedException {
    return client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + ports.gateway() + "/v1/completions"))
        .header("content-type", "application/json")
        .timeout(REQUEST_TIMEOUT)
        .POST(BodyPublishers.ofString("{\"model\":\"" + model + "\",\"prompt\":\"" + prompt + "\",\"max_tokens\":"
            + maxTokens + "}"))
        .build(), BodyHandlers.ofString());
  }

  /** Load: {@code threads} loops of completions through the gateway until {@link Load#close()}. */
  Load load(int threads) {
    return new Load(threads);
  }

  /** Concurrent completions through the gateway. */
  final class Load implements AutoCloseable {
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final ExecutorService pool;
    private final List<Future<Integer>> loops = new ArrayList<>();

    private Load(int threads) {
      pool = Executors.newFixedThreadPool(threads);
      for (int t = 0; t < threads; t++) {
        String prompt = "Load loop " + t + ": tell me about prefix caching.";
        loops.add(pool.submit(() -> {
          int ok = 0;
          while (running.get()) {
            if (complete(MODEL, prompt, 64).statusCode() == 200) {
              ok++;
            }
          }
          return ok;
        }));
      }
    }

    /** Stops the loops, waiting for the requests in flight. */
    @Override
    public void close() throws Exception {
      running.set(false);
      for (Future<Integer> loop : loops) {
        loop.get(REQUEST_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
      }
      pool.shutdown();
    }
  }

  @Override
  public void close() throws Exception {
    command.stop();
    exit.get(15, TimeUnit.SECONDS);
  }
}
