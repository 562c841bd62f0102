package dev.epp.scheduler.plugins.flowcontrol;

import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.TypedName;
import dev.epp.api.flowcontrol.FairnessPolicy;
import dev.epp.api.flowcontrol.FlowQueue;
import dev.epp.api.flowcontrol.PriorityBand;

/**
 * Takes turns: picks the first non-empty flow after the one picked last, in fairness-id order, wrapping around; so
 * each flow with waiting requests dispatches once per round however many it holds. No parameters.
 */
public final class RoundRobinFairness implements FairnessPolicy {

  /** The plugin type. */
  public static final String TYPE = "round-robin-fairness-policy";

  private final TypedName typedName;

  /** A policy named {@code name}. */
  public RoundRobinFairness(String name) {
    this.typedName = new TypedName(TYPE, name);
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public Object newState() {
    return new Cursor();
  }

  @Override
  public FlowQueue pick(PriorityBand band, Object state) {
    Cursor cursor = (Cursor) state;
    FlowQueue first = null;
    FlowQueue next = null;
    for (FlowQueue flow : band.flows()) {
      if (flow.size() == 0) {
        continue;
      }
      if (first == null) {
        first = flow;
      }
      if (cursor.last == null || flow.fairnessId().compareTo(cursor.last) > 0) {
        next = flow;
        break;
      }
    }
    FlowQueue picked = next != null ? next : first;
    cursor.last = picked == null ? null : picked.fairnessId();
    return picked;
  }

  /** The fairness id picked last in one band. */
  private static final class Cursor {
    private String last;
  }

  /** Creates {@link RoundRobinFairness}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public RoundRobinFairness create(PluginSpec spec, PluginHandle handle) {
      return new RoundRobinFairness(spec.name());
    }
  }
}
