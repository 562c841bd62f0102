package dev.epp.scheduler.flowcontrol;

import dev.epp.api.flowcontrol.FairnessPolicy;
import dev.epp.api.flowcontrol.FlowQueue;
import dev.epp.api.flowcontrol.OrderingPolicy;
import dev.epp.api.flowcontrol.PriorityBand;
import java.util.Collection;
import java.util.TreeMap;

/** One priority band: its flows by fairness id, limits, policies and totals. Guarded by the controller's lock. */
final class BandQueue implements PriorityBand {

  final int priority;
  final long maxRequests;
  final long maxBytes;
  final FairnessPolicy fairness;
  final Object fairnessState;
  final OrderingPolicy ordering;
  /** Whether the band came from a template (and is collected when idle) rather than from the configured bands. */
  final boolean fromTemplate;
  final TreeMap<String, Flow> flows = new TreeMap<>();
  long requests;
  long bytes;
  long idleSinceNanos;

  BandQueue(FlowControlConfig.Band config, FairnessPolicy fairness, OrderingPolicy ordering, boolean fromTemplate,
      long nowNanos) {
    this.priority = config.priority();
    this.maxRequests = config.effectiveMaxRequests();
    this.maxBytes = config.effectiveMaxBytes();
    this.fairness = fairness;
    this.fairnessState = fairness.newState();
    this.ordering = ordering;
    this.fromTemplate = fromTemplate;
    this.idleSinceNanos = nowNanos;
  }

  @Override
  public int priority() {
    return priority;
  }

  @Override
  public Collection<? extends FlowQueue> flows() {
    return flows.values();
  }

  @Override
  public OrderingPolicy ordering() {
    return ordering;
  }
}
