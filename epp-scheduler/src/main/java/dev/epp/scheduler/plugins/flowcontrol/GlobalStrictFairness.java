package dev.epp.scheduler.plugins.flowcontrol;

import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.TypedName;
import dev.epp.api.flowcontrol.FairnessPolicy;
import dev.epp.api.flowcontrol.FlowQueue;
import dev.epp.api.flowcontrol.OrderingPolicy;
import dev.epp.api.flowcontrol.PriorityBand;
import dev.epp.api.flowcontrol.QueuedRequest;

/**
 * Ignores flow boundaries: picks the flow whose head request the band's ordering policy ranks first across all flows
 * (with FCFS, the oldest request of the band). Ties go to the smaller fairness id. No parameters.
 */
public final class GlobalStrictFairness implements FairnessPolicy {

  /** The plugin type. */
  public static final String TYPE = "global-strict-fairness-policy";

  private final TypedName typedName;

  /** A policy named {@code name}. */
  public GlobalStrictFairness(String name) {
    this.typedName = new TypedName(TYPE, name);
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public FlowQueue pick(PriorityBand band, Object state) {
    OrderingPolicy ordering = band.ordering();
    FlowQueue best = null;
    QueuedRequest bestHead = null;
    for (FlowQueue flow : band.flows()) {
      QueuedRequest head = flow.head();
      if (head != null && (bestHead == null || ordering.compare(head, bestHead) < 0)) {
        best = flow;
        bestHead = head;
      }
    }
    return best;
  }

  /** Creates {@link GlobalStrictFairness}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public GlobalStrictFairness create(PluginSpec spec, PluginHandle handle) {
      return new GlobalStrictFairness(spec.name());
    }
  }
}
