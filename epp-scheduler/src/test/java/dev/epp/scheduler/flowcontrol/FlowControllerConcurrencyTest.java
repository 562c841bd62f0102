package dev.epp.scheduler.flowcontrol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.MetricsRecorder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Real threads enqueue, cancel, signal, sweep and close at once: every request gets exactly one outcome, and the
 * queue accounting ends at zero (a request dispatched or removed twice would leave it off).
 */
class FlowControllerConcurrencyTest {

  private static final int PRODUCERS = 4;
  private static final int PER_PRODUCER = 5_000;

  @Test
  void everyRequestGetsExactlyOneOutcome() throws Exception {
    AtomicLong recorded = new AtomicLong();
    Map<Integer, Long> lastGauge = new ConcurrentHashMap<>();
    AtomicBoolean saturated = new AtomicBoolean();
    ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    FlowController controller = FlowController.builder()
        .config(FlowControlConfig.defaults()
            .withGlobalLimits(3_000, 0)
            .withIntervals(Duration.ofMillis(5), Duration.ofMillis(1), Duration.ofMillis(2)))
        .saturationSource(() -> saturated.get() ? 1.0 : 0.5)
        .scheduler(scheduler)
        .metrics(new MetricsRecorder() {
          @Override
          public void recordFlowControlOutcome(String fairnessId, int priority, String modelName,
              String targetModelName, String outcome, long queueNanos) {
            recorded.incrementAndGet();
          }

          @Override
          public void recordFlowControlCapacity(int priority, double requestUtilization, double byteUtilization) {
            // called under the controller's lock, so the last call is the latest
            lastGauge.put(priority, Math.round(requestUtilization * 5000));
          }
        })
        .build();
    ExecutorService threads = Executors.newFixedThreadPool(PRODUCERS + 2);
    CountDownLatch start = new CountDownLatch(1);
    CountDownLatch halfway = new CountDownLatch(PRODUCERS);
    AtomicBoolean closed = new AtomicBoolean();
    List<Future<List<Ticket>>> producers = new ArrayList<>();
    for (int p = 0; p < PRODUCERS; p++) {
      producers.add(threads.submit(() -> {
        start.await();
        ThreadLocalRandom random = ThreadLocalRandom.current();
        List<Ticket> tickets = new ArrayList<>();
        int afterClose = 0;
        for (int i = 0; afterClose < 500; i++) {
          if (closed.get()) {
            afterClose++;
          }
          FlowKey key = new FlowKey("tenant-" + random.nextInt(8), random.nextInt(-1, 3));
          Duration ttl = random.nextInt(10) == 0 ? Duration.ofNanos(1) : null;
          Ticket ticket = controller.enqueue(new FlowRequest(key, random.nextInt(1, 1000), System.nanoTime(), ttl,
              Long.MAX_VALUE, null));
          tickets.add(ticket);
          if (random.nextInt(4) == 0) {
            tickets.get(random.nextInt(tickets.size())).cancel();
          }
          if (i == PER_PRODUCER) {
            halfway.countDown(); // from here on, requests race close() below
          }
        }
        return tickets;
      }));
    }
    Future<?> signaller = threads.submit(() -> {
      start.await();
      while (!closed.get()) {
        saturated.set(!saturated.get());
        controller.signal();
      }
      return null;
    });
    Future<?> sweeper = threads.submit(() -> {
      start.await();
      while (!closed.get()) {
        controller.sweep();
      }
      return null;
    });
    start.countDown();
    List<Ticket> all = new ArrayList<>();
    halfway.await(5, TimeUnit.MINUTES);
    controller.close();
    closed.set(true);
    for (Future<List<Ticket>> producer : producers) {
      all.addAll(producer.get(5, TimeUnit.MINUTES));
    }
    signaller.get(5, TimeUnit.MINUTES);
    sweeper.get(5, TimeUnit.MINUTES);
    threads.shutdown();
    scheduler.shutdownNow();

    Map<Outcome.Kind, Integer> kinds = new EnumMap<>(Outcome.Kind.class);
    for (Ticket ticket : all) {
      assertTrue(ticket.outcome().isDone(), "a request without an outcome");
      kinds.merge(ticket.outcome().join().kind(), 1, Integer::sum);
    }
    assertTrue(all.size() >= PRODUCERS * (PER_PRODUCER + 500));
    assertEquals(all.size(), recorded.get(), "outcomes recorded once each: " + kinds);
    assertEquals(0, controller.queuedRequests());
    lastGauge.forEach((priority, requests) -> assertEquals(0L, requests, "band " + priority));
    assertTrue(kinds.getOrDefault(Outcome.Kind.DISPATCHED, 0) > 0, kinds::toString);
    assertTrue(kinds.getOrDefault(Outcome.Kind.CANCELLED, 0) > 0, kinds::toString);
    assertTrue(kinds.getOrDefault(Outcome.Kind.SHUTTING_DOWN, 0) > 0, kinds::toString);
  }
}
