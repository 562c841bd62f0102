package dev.epp.examples.gateway;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.MetricsRecorder;
import dev.epp.api.Ticker;
import dev.epp.extproc.ExtProcService;
import dev.epp.scheduler.Director;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.scheduler.EndpointPool;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/** A real EPP: {@link ExtProcService} over gRPC on 127.0.0.1, port 0, routing over {@link #pool}. */
final class TestEpp implements AutoCloseable {

  /** Queue-based scoring with one fallback, so a test decides the order of the targets through queue sizes. */
  static final String CONFIG = """
      apiVersion: inference.networking.x-k8s.io/v1alpha1
      kind: EndpointPickerConfig
      plugins:
      - type: queue-scorer
      - type: openai-parser
      - type: max-score-picker
        parameters:
          maxNumOfEndpoints: 2
      schedulingProfiles:
      - name: default
        plugins:
        - pluginRef: queue-scorer
        - pluginRef: max-score-picker
      parser:
        pluginRef: openai-parser
      """;

  final EndpointPool pool = new EndpointPool();
  final Director director = Director.builder(EndpointPickerConfig.parse(CONFIG), pool).build();
  private final Server server;

  TestEpp() {
    server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(new ExtProcService(director, MetricsRecorder.noop(), Ticker.system(),
            ExtProcService.DEFAULT_MAX_REQUEST_BODY_BYTES))
        .build();
    try {
      server.start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  String address() {
    return "127.0.0.1:" + server.getPort();
  }

  /** Adds the endpoint at {@code 127.0.0.1:port} with a waiting queue of {@code queue}: shorter queues go first. */
  void endpoint(int port, int queue) {
    String name = "127.0.0.1:" + port;
    pool.upsert(Endpoint.of(name, "127.0.0.1", port));
    pool.updateMetrics(name,
        EndpointMetrics.builder().waitingQueueSize(queue).updatedNanos(System.nanoTime()).build());
  }

  @Override
  public void close() throws InterruptedException {
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }
}
