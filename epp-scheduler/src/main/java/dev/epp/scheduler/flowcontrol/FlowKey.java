package dev.epp.scheduler.flowcontrol;

import java.util.Objects;

/**
 * Identifies a flow: the requests of one fairness id (tenant, from {@code x-gateway-inference-fairness-id}) at one
 * priority. Requests of one flow share a queue; flows of one priority share a band.
 */
public record FlowKey(String fairnessId, int priority) {

  /** @throws NullPointerException if {@code fairnessId} is {@code null} */
  public FlowKey {
    Objects.requireNonNull(fairnessId, "fairnessId");
  }
}
