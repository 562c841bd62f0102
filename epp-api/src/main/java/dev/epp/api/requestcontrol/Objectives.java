package dev.epp.api.requestcontrol;

import java.util.Map;

/**
 * The priorities of named inference objectives (Kubernetes {@code InferenceObjective}s, or a static table), looked
 * up by the {@code x-llm-d-inference-objective} (or {@code x-gateway-inference-objective}) request header. A request
 * whose priority is below 0 is sheddable.
 *
 * <p><b>Threading:</b> implementations are thread-safe and non-blocking.
 */
@FunctionalInterface
public interface Objectives {

  /** The priority of the objective named {@code name}; 0 when it is unknown or has no priority. */
  int priority(String name);

  /** No objectives: every request has priority 0. */
  static Objectives none() {
    return name -> 0;
  }

  /** A fixed table of objective priorities. */
  static Objectives of(Map<String, Integer> priorities) {
    Map<String, Integer> copy = Map.copyOf(priorities);
    return name -> copy.getOrDefault(name, 0);
  }
}
