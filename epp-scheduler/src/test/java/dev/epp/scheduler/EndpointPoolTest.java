package dev.epp.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.scheduling.Candidates;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class EndpointPoolTest {

  private static EndpointMetrics queue(int q) {
    return EndpointMetrics.builder().waitingQueueSize(q).updatedNanos(1).build();
  }

  @Test
  void addUpdateAndRemove() {
    EndpointPool pool = new EndpointPool();
    assertTrue(pool.upsert(Endpoint.of("a", "10.0.0.1", 8000)));
    assertTrue(pool.upsert(Endpoint.of("b", "10.0.0.2", 8000)));
    assertTrue(pool.updateMetrics("b", queue(4)));
    Candidates snapshot = pool.snapshot();
    assertEquals(2, snapshot.size());
    assertSame(EndpointMetrics.none(), snapshot.metrics(0));
    assertEquals(4, snapshot.metrics(1).waitingQueueSize());

    assertTrue(pool.remove("a"));
    assertFalse(pool.remove("a"));
    assertFalse(pool.updateMetrics("a", queue(1)));
    assertEquals(List.of("b"), pool.endpoints().stream().map(Endpoint::name).toList());
    assertEquals(4, pool.snapshot().metrics(0).waitingQueueSize());
    // an earlier snapshot never changes
    assertEquals(2, snapshot.size());
    assertEquals("a", snapshot.endpoint(0).name());
  }

  @Test
  void replacingAnEndpointKeepsMetricsOnlyWhenItsAddressIsUnchanged() {
    EndpointPool pool = new EndpointPool();
    pool.upsert(Endpoint.of("a", "10.0.0.1", 8000));
    pool.updateMetrics("a", queue(3));
    assertFalse(pool.upsert(Endpoint.of("a", "10.0.0.1", 8000)));
    assertTrue(pool.upsert(new Endpoint("a", "10.0.0.1", 8000, Map.of("k", "v"))));
    assertEquals(3, pool.snapshot().metrics(0).waitingQueueSize());
    assertTrue(pool.upsert(Endpoint.of("a", "10.0.0.9", 8000)));
    assertSame(EndpointMetrics.none(), pool.snapshot().metrics(0));
    assertEquals("10.0.0.9", pool.endpoint("a").orElseThrow().address());
  }

  @Test
  void listenersSeeChangesInOrderAfterTheyAreVisible() {
    EndpointPool pool = new EndpointPool();
    List<String> events = new ArrayList<>();
    pool.addListener(new dev.epp.api.EndpointStore.Listener() {
      @Override
      public void added(Endpoint endpoint) {
        events.add("+" + endpoint.name() + "@" + pool.snapshot().size());
      }

      @Override
      public void removed(Endpoint endpoint) {
        events.add("-" + endpoint.name() + "@" + pool.snapshot().size());
      }
    });
    pool.upsert(Endpoint.of("a", "10.0.0.1", 8000));
    pool.upsert(Endpoint.of("b", "10.0.0.2", 8000));
    pool.remove("a");
    pool.remove("missing");
    assertEquals(List.of("+a@1", "+b@2", "-a@1"), events);
  }

  @Test
  void readersAlwaysSeeAConsistentSnapshotWhileWritersChurn() throws Exception {
    EndpointPool pool = new EndpointPool();
    AtomicBoolean stop = new AtomicBoolean();
    AtomicReference<String> failure = new AtomicReference<>();
    Thread reader = new Thread(() -> {
      while (!stop.get()) {
        Candidates c = pool.snapshot();
        for (int i = 0; i < c.size(); i++) {
          // every writer sets the queue to the endpoint's own number, so a mix-up shows
          int expected = Integer.parseInt(c.endpoint(i).name().substring(1));
          int q = c.metrics(i).waitingQueueSize();
          if (q != 0 && q != expected) {
            failure.set(c.endpoint(i).name() + " has queue " + q);
          }
        }
      }
    });
    reader.start();
    for (int round = 0; round < 2000; round++) {
      int n = round % 50;
      pool.upsert(Endpoint.of("e" + n, "10.0.0." + (n + 1), 8000));
      pool.updateMetrics("e" + n, queue(n));
      if (round % 3 == 0) {
        pool.remove("e" + ((n + 7) % 50));
      }
    }
    stop.set(true);
    reader.join();
    assertEquals(null, failure.get());
  }

  @Test
  void aMetricsUpdateLeavesEarlierSnapshotsAloneAndLaterOnesShowIt() {
    EndpointPool pool = new EndpointPool();
    pool.upsert(Endpoint.of("a", "10.0.0.1", 8000));
    pool.upsert(Endpoint.of("b", "10.0.0.2", 8000));
    pool.updateMetrics("a", queue(1));
    Candidates before = pool.snapshot();
    assertSame(before, pool.snapshot(), "no change: the snapshot is shared");

    assertTrue(pool.updateMetrics("b", queue(2)));
    Candidates after = pool.snapshot();
    assertEquals(1, before.metrics(0).waitingQueueSize());
    assertSame(EndpointMetrics.none(), before.metrics(1));
    assertEquals(1, after.metrics(0).waitingQueueSize());
    assertEquals(2, after.metrics(1).waitingQueueSize());
    assertSame(before.endpoint(1), after.endpoint(1));

    pool.updateMetrics("a", queue(3));
    pool.updateMetrics("a", queue(4));
    assertEquals(4, pool.snapshot().metrics(0).waitingQueueSize(), "the last of several updates");
    assertEquals(2, after.metrics(1).waitingQueueSize());
    assertEquals(1, after.metrics(0).waitingQueueSize());
  }

  @Test
  void metricsListenersFireInOrderAndSeeTheUpdate() {
    EndpointPool pool = new EndpointPool();
    pool.upsert(Endpoint.of("a", "10.0.0.1", 8000));
    pool.upsert(Endpoint.of("b", "10.0.0.2", 8000));
    List<String> events = new ArrayList<>();
    pool.addListener(new dev.epp.api.EndpointStore.Listener() {
      @Override
      public void added(Endpoint endpoint) {}

      @Override
      public void removed(Endpoint endpoint) {}

      @Override
      public void metricsUpdated(Endpoint endpoint) {
        Candidates c = pool.snapshot();
        int i = endpoint.name().equals("a") ? 0 : 1;
        events.add(endpoint.name() + "=" + c.metrics(i).waitingQueueSize());
      }
    });
    pool.updateMetrics("b", queue(5));
    pool.updateMetrics("a", queue(6));
    pool.updateMetrics("b", queue(7));
    pool.updateMetrics("missing", queue(8));
    assertEquals(List.of("b=5", "a=6", "b=7"), events);
  }

  @Test
  void updatesAfterMembershipChangesLandOnTheRightEndpoint() {
    EndpointPool pool = new EndpointPool();
    for (String name : List.of("a", "b", "c")) {
      pool.upsert(Endpoint.of(name, "10.0.0.1", 8000));
    }
    pool.updateMetrics("c", queue(3));
    Candidates three = pool.snapshot();
    pool.remove("a");
    pool.updateMetrics("b", queue(2));
    Candidates two = pool.snapshot();
    assertEquals(List.of("b", "c"), List.of(two.endpoint(0).name(), two.endpoint(1).name()));
    assertEquals(2, two.metrics(0).waitingQueueSize());
    assertEquals(3, two.metrics(1).waitingQueueSize());
    assertSame(EndpointMetrics.none(), three.metrics(1), "the snapshot taken before keeps b unscraped");
    pool.upsert(Endpoint.of("d", "10.0.0.4", 8000));
    pool.updateMetrics("d", queue(4));
    pool.updateMetrics("c", queue(9));
    Candidates next = pool.snapshot();
    assertEquals(List.of(2, 9, 4), List.of(next.metrics(0).waitingQueueSize(), next.metrics(1).waitingQueueSize(),
        next.metrics(2).waitingQueueSize()));
    assertEquals(3, two.metrics(1).waitingQueueSize());
  }
}
