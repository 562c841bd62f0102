package dev.epp.scheduler.flowcontrol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.MetricsRecorder;
import dev.epp.api.Parameters;
import dev.epp.api.TypedName;
import dev.epp.api.flowcontrol.FairnessPolicy;
import dev.epp.api.flowcontrol.OrderingPolicy;
import dev.epp.api.flowcontrol.UsageLimitPolicy;
import dev.epp.scheduler.plugins.flowcontrol.EdfOrdering;
import dev.epp.scheduler.plugins.flowcontrol.RoundRobinFairness;
import dev.epp.scheduler.plugins.flowcontrol.SloDeadlineOrdering;
import dev.epp.scheduler.plugins.flowcontrol.StaticUsageLimit;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Flow-control behaviour, driven by a manual ticker, explicit signals and explicit sweeps. */
class FlowControllerTest {

  private static final long SECOND = TimeUnit.SECONDS.toNanos(1);

  private final AtomicLong now = new AtomicLong(1_000 * SECOND);
  private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
  private final List<String> dispatched = Collections.synchronizedList(new ArrayList<>());
  private final Map<String, Long> outcomes = new ConcurrentHashMap<>();
  private volatile double saturation = 1.0;
  private volatile boolean hasEndpoints = true;
  private final List<FlowController> controllers = new ArrayList<>();

  private final MetricsRecorder recorder = new MetricsRecorder() {
    @Override
    public void recordFlowControlOutcome(String fairnessId, int priority, String modelName, String targetModelName,
        String outcome, long queueNanos) {
      outcomes.merge(outcome, 1L, Long::sum);
    }
  };

  @AfterEach
  void stop() {
    controllers.forEach(FlowController::close);
    scheduler.shutdownNow();
  }

  private FlowController controller(FlowControlConfig config) {
    return controller(config, null);
  }

  private FlowController controller(FlowControlConfig config, UsageLimitPolicy usageLimit) {
    FlowController controller = FlowController.builder()
        // the periodic sweep never fires during a test: tests sweep explicitly
        .config(config.withIntervals(Duration.ofHours(1), config.flowGcTimeout(), config.priorityBandGcTimeout())
            .withUsageLimit(usageLimit))
        .saturationSource(new FlowController.SaturationSource() {
          @Override
          public double saturation() {
            return saturation;
          }

          @Override
          public boolean hasEndpoints() {
            return hasEndpoints;
          }
        })
        .ticker(now::get)
        .scheduler(scheduler)
        .metrics(recorder)
        .build();
    controllers.add(controller);
    return controller;
  }

  /** Enqueues a request whose payload is {@code name}; its dispatch appends {@code name} to {@link #dispatched}. */
  private Ticket enqueue(FlowController controller, String name, String fairnessId, int priority) {
    return enqueue(controller, name, new FlowRequest(new FlowKey(fairnessId, priority), 10, now.get(), null,
        Long.MAX_VALUE, name));
  }

  private Ticket enqueue(FlowController controller, String name, FlowRequest request) {
    Ticket ticket = controller.enqueue(request);
    ticket.outcome().thenAccept(o -> {
      if (o.kind() == Outcome.Kind.DISPATCHED) {
        dispatched.add(name);
      }
    });
    now.addAndGet(1);
    return ticket;
  }

  private static Outcome.Kind kind(Ticket ticket) {
    assertTrue(ticket.outcome().isDone(), "no outcome yet");
    return ticket.outcome().join().kind();
  }

  private static FlowControlConfig.Band band(int priority, long maxRequests, long maxBytes) {
    return new FlowControlConfig.Band(priority, maxRequests, maxBytes, null, null);
  }

  @Test
  void dispatchesAtOnceWhileThePoolHasRoom() {
    saturation = 0.2;
    FlowController controller = controller(FlowControlConfig.defaults());
    Ticket ticket = enqueue(controller, "a", "tenant", 0);
    assertEquals(Outcome.Kind.DISPATCHED, kind(ticket));
    assertEquals(0, controller.queuedRequests());
    assertEquals(1L, outcomes.get("Dispatched"));
  }

  @Test
  void higherPriorityBandsDispatchFirst() {
    FlowController controller = controller(FlowControlConfig.defaults());
    enqueue(controller, "p0", "t", 0);
    enqueue(controller, "p5-first", "t", 5);
    enqueue(controller, "p-1", "t", -1);
    enqueue(controller, "p5-second", "u", 5);
    assertEquals(List.of(), dispatched);
    saturation = 0.5;
    controller.signal();
    assertEquals(List.of("p5-first", "p5-second", "p0", "p-1"), dispatched);
  }

  @Test
  void saturationIsReadAgainBeforeEveryDispatch() {
    FlowController counting = FlowController.builder()
        .saturationSource(() -> saturation >= 1.0 ? 1.0 : dispatched.size() * 0.34)
        .ticker(now::get).scheduler(scheduler).build();
    controllers.add(counting);
    for (int i = 0; i < 10; i++) {
      enqueue(counting, "c" + i, "t", 0);
    }
    saturation = 0;
    counting.signal();
    // each dispatch raises the saturation: 0, 0.34, 0.68 dispatch; 1.02 stops
    assertEquals(List.of("c0", "c1", "c2"), dispatched);
    assertEquals(7, counting.queuedRequests());
  }

  @Test
  void aBandAtItsCeilingBlocksEveryLowerBand() {
    // the high band is gated above 0.5, the low one would dispatch up to 1.0: head-of-line blocking stops the cycle
    UsageLimitPolicy gateHigh = new UsageLimitPolicy() {
      @Override
      public TypedName typedName() {
        return TypedName.of("gate-high");
      }

      @Override
      public void computeLimits(double saturation, int[] priorities, double[] ceilings) {
        for (int i = 0; i < priorities.length; i++) {
          ceilings[i] = priorities[i] > 0 ? 0.5 : 1.0;
        }
      }
    };
    FlowController controller = controller(FlowControlConfig.defaults(), gateHigh);
    enqueue(controller, "high", "t", 3);
    enqueue(controller, "low", "t", 0);
    saturation = 0.6;
    controller.signal();
    assertEquals(List.of(), dispatched);
    saturation = 0.4;
    controller.signal();
    assertEquals(List.of("high", "low"), dispatched);
  }

  @Test
  void staticUsageLimitHoldsHeadroomBack() {
    FlowController controller = controller(FlowControlConfig.defaults(),
        new StaticUsageLimit("limit", Parameters.of(Map.of("threshold", 0.5))));
    enqueue(controller, "a", "t", 0);
    saturation = 0.5;
    controller.signal();
    assertEquals(List.of(), dispatched);
    saturation = 0.49;
    controller.signal();
    assertEquals(List.of("a"), dispatched);
  }

  private List<String> twoFlows(FairnessPolicy fairness) {
    FlowController controller = controller(FlowControlConfig.defaults()
        .withBands(FlowControlConfig.Band.of(0), null, List.of(new FlowControlConfig.Band(0, 0, 0, fairness, null))));
    for (int i = 1; i <= 3; i++) {
      enqueue(controller, "a" + i, "a", 0);
    }
    for (int i = 1; i <= 3; i++) {
      enqueue(controller, "b" + i, "b", 0);
    }
    saturation = 0;
    controller.signal();
    return dispatched;
  }

  @Test
  void globalStrictFairnessDispatchesTheOldestRequestOfTheBand() {
    assertEquals(List.of("a1", "a2", "a3", "b1", "b2", "b3"), twoFlows(null));
  }

  @Test
  void roundRobinFairnessAlternatesBetweenFlows() {
    assertEquals(List.of("a1", "b1", "a2", "b2", "a3", "b3"), twoFlows(new RoundRobinFairness("rr")));
  }

  private List<String> ordered(OrderingPolicy ordering) {
    FlowController controller = controller(FlowControlConfig.defaults()
        .withBands(new FlowControlConfig.Band(0, 0, 0, null, ordering), null, List.of()));
    FlowKey key = new FlowKey("t", 0);
    long t = now.get();
    // enqueued in this order, one nanosecond apart
    enqueue(controller, "ttl30s", new FlowRequest(key, 1, t, Duration.ofSeconds(30), Long.MAX_VALUE, null));
    enqueue(controller, "ttl10s-slo5s", new FlowRequest(key, 1, t, Duration.ofSeconds(10), t + 5 * SECOND, null));
    enqueue(controller, "noTtl-slo1s", new FlowRequest(key, 1, t, Duration.ZERO, t + SECOND, null));
    saturation = 0;
    controller.signal();
    return dispatched;
  }

  @Test
  void fcfsOrderingDispatchesInArrivalOrder() {
    assertEquals(List.of("ttl30s", "ttl10s-slo5s", "noTtl-slo1s"), ordered(null));
  }

  @Test
  void edfOrderingDispatchesTheEarliestTtlDeadlineFirst() {
    assertEquals(List.of("ttl10s-slo5s", "ttl30s", "noTtl-slo1s"), ordered(new EdfOrdering("edf")));
  }

  @Test
  void sloDeadlineOrderingDispatchesTheEarliestSloDeadlineFirst() {
    assertEquals(List.of("noTtl-slo1s", "ttl10s-slo5s", "ttl30s"), ordered(new SloDeadlineOrdering("slo")));
  }

  @Test
  void bandRequestLimitRejectsAtOnceWith429() {
    FlowController controller = controller(FlowControlConfig.defaults()
        .withBands(FlowControlConfig.Band.of(0), null, List.of(band(0, 2, 0))));
    enqueue(controller, "a", "t", 0);
    enqueue(controller, "b", "u", 0);
    Ticket rejected = enqueue(controller, "c", "t", 0);
    assertEquals(Outcome.Kind.REJECTED_CAPACITY, kind(rejected));
    assertEquals(429, Outcome.Kind.REJECTED_CAPACITY.httpStatus());
    assertEquals("rejected-saturated", Outcome.Kind.REJECTED_CAPACITY.droppedReason());
    assertFalse(enqueue(controller, "other-band", "t", 1).outcome().isDone(), "another band has its own limit");
    assertEquals(1L, outcomes.get("RejectedCapacity"));
  }

  @Test
  void bandByteLimitRejects() {
    FlowController controller = controller(FlowControlConfig.defaults()
        .withBands(FlowControlConfig.Band.of(0), null, List.of(band(0, 0, 100))));
    FlowKey key = new FlowKey("t", 0);
    assertFalse(controller.enqueue(new FlowRequest(key, 60, 0, null, Long.MAX_VALUE, null)).outcome().isDone());
    assertEquals(Outcome.Kind.REJECTED_CAPACITY,
        kind(controller.enqueue(new FlowRequest(key, 41, 0, null, Long.MAX_VALUE, null))));
    assertFalse(controller.enqueue(new FlowRequest(key, 40, 0, null, Long.MAX_VALUE, null)).outcome().isDone());
  }

  @Test
  void globalLimitsSpanAllBands() {
    FlowController requests = controller(FlowControlConfig.defaults().withGlobalLimits(2, 0));
    enqueue(requests, "a", "t", 0);
    enqueue(requests, "b", "t", 4);
    assertEquals(Outcome.Kind.REJECTED_CAPACITY, kind(enqueue(requests, "c", "t", -2)));

    FlowController bytes = controller(FlowControlConfig.defaults().withGlobalLimits(0, 25));
    enqueue(bytes, "a", "t", 0); // 10 bytes each
    enqueue(bytes, "b", "t", 4);
    assertEquals(Outcome.Kind.REJECTED_CAPACITY, kind(enqueue(bytes, "c", "t", -2)));
  }

  @Test
  void unconfiguredPrioritiesUseTheDefaultBandTemplates() {
    FlowController controller = controller(FlowControlConfig.defaults()
        .withBands(band(0, 2, 0), band(0, 1, 0), List.of(band(0, 5, 0))));
    enqueue(controller, "n1", "t", -3);
    assertEquals(Outcome.Kind.REJECTED_CAPACITY, kind(enqueue(controller, "n2", "t", -3)), "negative template: 1");
    enqueue(controller, "p1", "t", 7);
    enqueue(controller, "p2", "t", 7);
    assertEquals(Outcome.Kind.REJECTED_CAPACITY, kind(enqueue(controller, "p3", "t", 7)), "default template: 2");
    saturation = 0;
    controller.signal();
    assertEquals(List.of("p1", "p2", "n1"), dispatched);
  }

  @Test
  void requestsWaitingLongerThanTheirTtlAreEvictedWith429() {
    FlowController controller = controller(FlowControlConfig.defaults()
        .withTtls(Duration.ofSeconds(10), Duration.ofSeconds(60)));
    Ticket byDefault = enqueue(controller, "default", "t", 0);
    Ticket forever = enqueue(controller, "forever",
        new FlowRequest(new FlowKey("t", 0), 1, now.get(), Duration.ZERO, Long.MAX_VALUE, null));
    Ticket own = enqueue(controller, "own",
        new FlowRequest(new FlowKey("t", 0), 1, now.get(), Duration.ofSeconds(20), Long.MAX_VALUE, null));
    now.addAndGet(9 * SECOND);
    controller.sweep();
    assertFalse(byDefault.outcome().isDone());
    now.addAndGet(SECOND);
    controller.sweep();
    assertEquals(Outcome.Kind.EVICTED_TTL, kind(byDefault));
    assertEquals(429, Outcome.Kind.EVICTED_TTL.httpStatus());
    assertEquals("rejected-ttl-expired", Outcome.Kind.EVICTED_TTL.droppedReason());
    assertFalse(own.outcome().isDone());
    now.addAndGet(10 * SECOND);
    controller.sweep();
    assertEquals(Outcome.Kind.EVICTED_TTL, kind(own));
    now.addAndGet(3600 * SECOND);
    controller.sweep();
    assertFalse(forever.outcome().isDone());
    assertEquals(1, controller.queuedRequests());
  }

  @Test
  void anEndlessTtlNeverExpires() {
    FlowController controller = controller(FlowControlConfig.defaults());
    Ticket ticket = enqueue(controller, "a", new FlowRequest(new FlowKey("t", 0), 1, now.get(),
        java.time.temporal.ChronoUnit.FOREVER.getDuration(), Long.MAX_VALUE, null));
    now.addAndGet(365 * 24 * 3600 * SECOND);
    controller.sweep();
    assertFalse(ticket.outcome().isDone());
  }

  @Test
  void zeroDefaultTtlWaitsUntilCancelled() {
    FlowController controller = controller(FlowControlConfig.defaults().withTtls(Duration.ZERO, Duration.ZERO));
    Ticket ticket = enqueue(controller, "a", "t", 0);
    now.addAndGet(24 * 3600 * SECOND);
    controller.sweep();
    assertFalse(ticket.outcome().isDone());
  }

  @Test
  void withoutEndpointsRequestsWaitTheNoEndpointTtlThenGet503() {
    FlowController controller = controller(FlowControlConfig.defaults()
        .withTtls(Duration.ofSeconds(60), Duration.ofSeconds(5)));
    hasEndpoints = false;
    Ticket ticket = enqueue(controller, "a", "t", 0);
    now.addAndGet(4 * SECOND);
    controller.sweep();
    assertFalse(ticket.outcome().isDone());
    now.addAndGet(SECOND);
    controller.sweep();
    assertEquals(Outcome.Kind.EVICTED_NO_ENDPOINTS, kind(ticket));
    assertEquals(503, Outcome.Kind.EVICTED_NO_ENDPOINTS.httpStatus());
    assertEquals("rejected-no-endpoints", Outcome.Kind.EVICTED_NO_ENDPOINTS.droppedReason());
  }

  @Test
  void theTtlIsChargedFromTheLastChangeOfEndpointPresence() {
    FlowController controller = controller(FlowControlConfig.defaults()
        .withTtls(Duration.ofSeconds(10), Duration.ofSeconds(5)));
    hasEndpoints = false;
    Ticket ticket = enqueue(controller, "a", "t", 0);
    now.addAndGet(4 * SECOND);
    hasEndpoints = true; // scaled up, but saturated
    controller.sweep();
    now.addAndGet(9 * SECOND); // 13s after enqueue, 9s with endpoints
    controller.sweep();
    assertFalse(ticket.outcome().isDone());
    now.addAndGet(SECOND);
    controller.sweep();
    assertEquals(Outcome.Kind.EVICTED_TTL, kind(ticket));
  }

  @Test
  void aFullQueueWithoutEndpointsRejectsWith503() {
    FlowController controller = controller(FlowControlConfig.defaults().withGlobalLimits(1, 0));
    hasEndpoints = false;
    enqueue(controller, "a", "t", 0); // observes the empty pool
    Ticket rejected = enqueue(controller, "b", "t", 0);
    assertEquals(Outcome.Kind.REJECTED_NO_ENDPOINTS, kind(rejected));
    assertEquals(503, Outcome.Kind.REJECTED_NO_ENDPOINTS.httpStatus());
  }

  @Test
  void cancelLeavesTheQueueAtOnce() {
    FlowController controller = controller(FlowControlConfig.defaults());
    Ticket first = enqueue(controller, "first", "t", 0);
    Ticket second = enqueue(controller, "second", "t", 0);
    Ticket third = enqueue(controller, "third", "t", 0);
    second.cancel();
    assertEquals(Outcome.Kind.CANCELLED, kind(second));
    assertEquals("rejected-context-cancelled", Outcome.Kind.CANCELLED.droppedReason());
    assertEquals(2, controller.queuedRequests());
    first.cancel();
    saturation = 0;
    controller.signal();
    assertEquals(List.of("third"), dispatched);
    third.cancel(); // after dispatch: nothing changes
    assertEquals(Outcome.Kind.DISPATCHED, kind(third));
    assertEquals(2L, outcomes.get("EvictedContextCancelled"));
  }

  @Test
  void closeRejectsQueuedAndLaterRequests() {
    FlowController controller = controller(FlowControlConfig.defaults());
    Ticket queued = enqueue(controller, "a", "t", 0);
    controller.close();
    assertEquals(Outcome.Kind.SHUTTING_DOWN, kind(queued));
    assertEquals("rejected-shutting-down", Outcome.Kind.SHUTTING_DOWN.droppedReason());
    assertEquals(Outcome.Kind.SHUTTING_DOWN, kind(enqueue(controller, "b", "t", 0)));
    assertEquals(0, controller.queuedRequests());
    saturation = 0;
    controller.signal();
    assertEquals(List.of(), dispatched);
  }

  @Test
  void idleFlowsAreCollected() {
    FlowController controller = controller(FlowControlConfig.defaults());
    enqueue(controller, "a", "a", 0);
    enqueue(controller, "b", "b", 3);
    saturation = 0;
    controller.signal();
    assertEquals(2, controller.flowCount());
    now.addAndGet(299 * SECOND);
    controller.sweep();
    assertEquals(2, controller.flowCount());
    now.addAndGet(SECOND);
    controller.sweep();
    assertEquals(0, controller.flowCount());
  }

  @Test
  void idleBandsFromTemplatesAreCollectedButConfiguredBandsStay() {
    FlowController controller = controller(FlowControlConfig.defaults()
        .withBands(FlowControlConfig.Band.of(0), null, List.of(FlowControlConfig.Band.of(4))));
    assertEquals(2, controller.bandCount(), "band 4 and band 0");
    enqueue(controller, "a", "a", 9);
    saturation = 0;
    controller.signal();
    assertEquals(3, controller.bandCount());
    now.addAndGet(599 * SECOND);
    controller.sweep();
    assertEquals(3, controller.bandCount());
    now.addAndGet(SECOND);
    controller.sweep();
    assertEquals(2, controller.bandCount());
    assertEquals(Outcome.Kind.DISPATCHED, kind(enqueue(controller, "b", "a", 9)), "recreated on demand");
  }

  @Test
  void aFlowWithQueuedRequestsIsNeverCollected() {
    FlowController controller = controller(FlowControlConfig.defaults().withTtls(Duration.ZERO, Duration.ZERO));
    enqueue(controller, "a", "a", 0);
    now.addAndGet(3600 * SECOND);
    controller.sweep();
    assertEquals(1, controller.flowCount());
  }

  @Test
  void theQueueGaugesFollowEachRequestAndTheBandsCapacity() {
    List<String> queued = Collections.synchronizedList(new ArrayList<>());
    List<String> capacity = Collections.synchronizedList(new ArrayList<>());
    FlowController controller = FlowController.builder()
        .config(FlowControlConfig.defaults().withBands(new FlowControlConfig.Band(0, 4, 100, null, null), null,
            List.of()))
        .saturationSource(() -> saturation).ticker(now::get).scheduler(scheduler)
        .metrics(new MetricsRecorder() {
          @Override
          public void recordFlowControlQueued(String fairnessId, int priority, String modelName,
              String targetModelName, int requests, long bytes) {
            queued.add(fairnessId + ":" + priority + ":" + modelName + ":" + targetModelName + ":" + requests + ":"
                + bytes);
          }

          @Override
          public void recordFlowControlCapacity(int priority, double requestUtilization, double byteUtilization) {
            capacity.add(priority + ":" + requestUtilization + ":" + byteUtilization);
          }
        }).build();
    controllers.add(controller);
    enqueue(controller, "a", new FlowRequest(new FlowKey("t", 2), 10, now.get(), null, Long.MAX_VALUE, "a", "m",
        "m-lora"));
    enqueue(controller, "b", "u", 2);
    saturation = 0;
    controller.signal();
    assertEquals(List.of("t:2:m:m-lora:1:10", "u:2:::1:10", "t:2:m:m-lora:-1:-10", "u:2:::-1:-10"), queued);
    assertEquals(List.of("2:0.25:0.1", "2:0.5:0.2", "2:0.25:0.1", "2:0.0:0.0"), capacity);
  }

  @Test
  void aFailingPolicyDispatchesNothingAndLosesNothing() {
    FairnessPolicy broken = new FairnessPolicy() {
      @Override
      public TypedName typedName() {
        return TypedName.of("broken");
      }

      @Override
      public dev.epp.api.flowcontrol.FlowQueue pick(dev.epp.api.flowcontrol.PriorityBand band, Object state) {
        throw new IllegalStateException("broken policy");
      }
    };
    FlowController controller = controller(FlowControlConfig.defaults()
        .withBands(FlowControlConfig.Band.of(0), null, List.of(new FlowControlConfig.Band(0, 0, 0, broken, null))));
    saturation = 0;
    Ticket ticket = enqueue(controller, "a", "t", 0);
    controller.signal();
    assertFalse(ticket.outcome().isDone());
    controller.close();
    assertEquals(Outcome.Kind.SHUTTING_DOWN, kind(ticket));
  }

  @Test
  void invalidSettingsAreRefused() {
    assertThrows(IllegalArgumentException.class, () -> FlowControlConfig.defaults().withGlobalLimits(-1, 0));
    assertThrows(IllegalArgumentException.class,
        () -> FlowControlConfig.defaults().withBands(FlowControlConfig.Band.of(0), null,
            List.of(FlowControlConfig.Band.of(1), FlowControlConfig.Band.of(1))));
    assertThrows(IllegalArgumentException.class,
        () -> new FlowRequest(new FlowKey("t", 0), -1, 0, null, Long.MAX_VALUE, null));
    assertThrows(NullPointerException.class, () -> FlowController.builder().scheduler(scheduler).build());
    assertNull(Outcome.Kind.DISPATCHED.droppedReason());
  }
}
