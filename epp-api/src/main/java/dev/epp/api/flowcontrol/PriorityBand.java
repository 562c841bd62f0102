package dev.epp.api.flowcontrol;

import java.util.Collection;

/** One priority band, as a fairness policy sees it. */
public interface PriorityBand {

  /** The band's priority; higher dispatches first. */
  int priority();

  /** The band's flows in ascending fairness-id order, including empty flows not yet collected. */
  Collection<? extends FlowQueue> flows();

  /** The band's ordering policy, which orders every flow of the band. */
  OrderingPolicy ordering();
}
