package dev.epp.api.requestcontrol;

import dev.epp.api.StateKey;

/**
 * The fairness ID of a request: the flow that flow control queues it in. The Director stores it under {@link #ID}
 * after the {@link RequestHeaderProcessor}s ran, before admission: the {@code x-llm-d-inference-fairness-id} header
 * (else {@code x-gateway-inference-fairness-id}) if not empty, else the {@link #AGENT_IDENTITY} a processor stored,
 * else {@value #DEFAULT_ID}; as llm-d derives it.
 */
public final class Fairness {

  /** The request's fairness ID; present from admission on. */
  public static final StateKey<String> ID = StateKey.of("fairness-id", String.class);

  /** The identity of the agent session a request belongs to, e.g. from {@code agent-identity}. */
  public static final StateKey<String> AGENT_IDENTITY = StateKey.of("agent-identity", String.class);

  /** The fairness ID of a request without a fairness header or agent identity. */
  public static final String DEFAULT_ID = "default-flow";

  private Fairness() {}
}
