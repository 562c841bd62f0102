package dev.epp.scheduler;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** What wakes flow control: dispatch follows the pool's signals, not the periodic sweep. */
class DirectorFlowControlTest {

  /** A scheduler whose one thread is held, so the controller's periodic sweep never runs during a test. */
  private final ScheduledExecutorService heldScheduler = Executors.newSingleThreadScheduledExecutor();
  private final CountDownLatch release = new CountDownLatch(1);

  @AfterEach
  void stop() {
    release.countDown();
    heldScheduler.shutdownNow();
  }

  @Test
  void scrapedMetricsShowingRoomDispatchWhatWaits() throws Exception {
    heldScheduler.execute(() -> {
      try {
        release.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    EndpointPickerConfig config = EndpointPickerConfig.loader().scheduler(heldScheduler).parse("""
        apiVersion: llm-d.ai/v1alpha1
        kind: EndpointPickerConfig
        featureGates: [flowControl]
        plugins:
        - name: queues
          type: utilization-detector
          parameters:
            metricsStalenessThreshold: 1h
        flowControl:
          saturationDetector:
            pluginRef: queues
        """, "test.yaml");
    EndpointPool pool = new EndpointPool();
    pool.upsert(Endpoint.of("pod-0-rank-0", "10.0.0.1", 8000));
    pool.updateMetrics("pod-0-rank-0", metrics(10)); // twice the queue threshold: saturated
    Director director = Director.builder(config, pool).build();
    try {
      CompletableFuture<Routing> waiting = director.routeAsync(Map.of(":path", "/v1/completions"),
          "{\"model\":\"m\",\"prompt\":\"hi\"}".getBytes(StandardCharsets.UTF_8), null, System.nanoTime());
      assertFalse(waiting.isDone(), "held while the pod's queue is full");

      pool.updateMetrics("pod-0-rank-0", metrics(0));
      assertTrue(waiting.isDone(), "dispatched on the metrics update itself, not by a later sweep");
      director.finish(waiting.join());
    } finally {
      director.close();
    }
  }

  private static EndpointMetrics metrics(int waiting) {
    return EndpointMetrics.builder().waitingQueueSize(waiting).kvCacheUsage(0.1).updatedNanos(System.nanoTime())
        .build();
  }
}
