package dev.epp.scheduler.plugins.flowcontrol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.flowcontrol.FlowQueue;
import dev.epp.api.flowcontrol.OrderingPolicy;
import dev.epp.api.flowcontrol.PriorityBand;
import dev.epp.api.flowcontrol.QueuedRequest;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The policies on hand-built requests, flows and bands. */
class FlowControlPoliciesTest {

  private record Request(long enqueueNanos, long receivedNanos, long ttlNanos, long deadlineNanos, long bytes)
      implements QueuedRequest {}

  private record Flow(String fairnessId, QueuedRequest head) implements FlowQueue {
    @Override
    public int size() {
      return head == null ? 0 : 1;
    }
  }

  private record Band(List<Flow> members) implements PriorityBand {
    @Override
    public int priority() {
      return 0;
    }

    @Override
    public OrderingPolicy ordering() {
      return new FcfsOrdering("fcfs");
    }

    @Override
    public Collection<? extends FlowQueue> flows() {
      return members;
    }
  }

  private static Request at(long enqueue) {
    return new Request(enqueue, enqueue, 0, Long.MAX_VALUE, 1);
  }

  @Test
  void edfPutsRequestsWithoutTtlLastAndSurvivesOverflow() {
    EdfOrdering edf = new EdfOrdering("edf");
    Request noTtl = new Request(0, 0, 0, Long.MAX_VALUE, 1);
    Request huge = new Request(10, 10, Long.MAX_VALUE, Long.MAX_VALUE, 1);
    Request shortTtl = new Request(100, 100, 5, Long.MAX_VALUE, 1);
    assertTrue(edf.compare(shortTtl, noTtl) < 0);
    assertTrue(edf.compare(huge, noTtl) > 0, "same far deadline: first come first served");
    assertTrue(edf.compare(shortTtl, huge) < 0);
  }

  @Test
  void sloDeadlineBreaksTiesByReceipt() {
    SloDeadlineOrdering slo = new SloDeadlineOrdering("slo");
    assertTrue(slo.compare(new Request(9, 1, 0, 50, 1), new Request(1, 2, 0, 50, 1)) < 0);
    assertTrue(slo.compare(new Request(9, 9, 0, 40, 1), new Request(1, 1, 0, 50, 1)) < 0);
  }

  @Test
  void globalStrictPicksTheFlowWithTheOldestHead() {
    Flow a = new Flow("a", at(5));
    Flow b = new Flow("b", at(3));
    Flow empty = new Flow("c", null);
    GlobalStrictFairness strict = new GlobalStrictFairness("gs");
    assertEquals(b, strict.pick(new Band(List.of(a, b, empty)), strict.newState()));
    assertNull(strict.pick(new Band(List.of(empty)), strict.newState()));
  }

  @Test
  void roundRobinSkipsEmptyFlowsAndWraps() {
    Flow a = new Flow("a", at(1));
    Flow b = new Flow("b", null);
    Flow c = new Flow("c", at(2));
    RoundRobinFairness rr = new RoundRobinFairness("rr");
    Object state = rr.newState();
    Band band = new Band(List.of(a, b, c));
    assertEquals(List.of(a, c, a, c), List.of(rr.pick(band, state), rr.pick(band, state), rr.pick(band, state),
        rr.pick(band, state)));
    Object other = rr.newState();
    assertEquals(a, rr.pick(band, other), "each band keeps its own cursor");
    assertNull(rr.pick(new Band(List.of(b)), state));
  }

  @Test
  void staticUsageLimitWritesItsThresholdForEveryBand() {
    double[] ceilings = {1, 1, 1};
    new StaticUsageLimit("s", Parameters.of(Map.of("threshold", 0.7))).computeLimits(0.2, new int[] {5, 0, -1},
        ceilings);
    assertArrayEquals(new double[] {0.7, 0.7, 0.7}, ceilings);
    double[] defaults = {0};
    new StaticUsageLimit("s", Parameters.empty()).computeLimits(0.2, new int[] {0}, defaults);
    assertArrayEquals(new double[] {1.0}, defaults);
    assertThrows(PluginConfigException.class,
        () -> new StaticUsageLimit("s", Parameters.of(Map.of("threshold", -0.1))));
  }
}
