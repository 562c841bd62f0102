package dev.epp.api.flowcontrol;

import dev.epp.api.Plugin;

/**
 * Chooses which flow of a band dispatches next. One instance serves many bands: per-band mutable state lives in the
 * object {@link #newState()} returns, which the controller keeps with the band and hands back to {@link #pick}.
 */
public interface FairnessPolicy extends Plugin {

  /** Fresh state for one band (e.g. a round-robin cursor); {@code null} if the policy keeps none. */
  default Object newState() {
    return null;
  }

  /**
   * The flow to dispatch from next, or {@code null} if every flow of {@code band} is empty.
   *
   * @param state this band's object from {@link #newState()}
   */
  FlowQueue pick(PriorityBand band, Object state);
}
