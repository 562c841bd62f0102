package dev.epp.api.flowcontrol;

/** The queue of one flow (one fairness id at one priority), as a fairness policy sees it. */
public interface FlowQueue {

  /** The flow's fairness id. */
  String fairnessId();

  /** How many requests wait in this flow. */
  int size();

  /** The request the flow's ordering policy dispatches next, or {@code null} if the flow is empty. */
  QueuedRequest head();
}
