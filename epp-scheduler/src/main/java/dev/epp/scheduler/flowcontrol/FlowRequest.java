package dev.epp.scheduler.flowcontrol;

import java.time.Duration;
import java.util.Objects;

/**
 * A request offered to the {@link FlowController}.
 *
 * @param key the request's flow
 * @param bytes its size, counted against the byte limits; not negative
 * @param receivedNanos when the EPP received it, in the controller's ticker nanoseconds
 * @param ttl how long it may wait in the queue: {@code null} for the configured {@code defaultRequestTTL},
 *     {@link Duration#ZERO} for no limit
 * @param deadlineNanos its SLO deadline for {@code slo-deadline-ordering-policy} (received time plus
 *     {@code x-llm-d-slo-ttft-ms}, computed by the caller), {@link Long#MAX_VALUE} for none
 * @param payload anything the caller wants back with the ticket; may be {@code null}
 * @param modelName the model the client asked for, for metrics labels; may be empty
 * @param targetModelName the model that serves it, for metrics labels; may be empty
 */
public record FlowRequest(FlowKey key, long bytes, long receivedNanos, Duration ttl, long deadlineNanos,
    Object payload, String modelName, String targetModelName) {

  /** @throws IllegalArgumentException if {@code bytes} or {@code ttl} is negative */
  public FlowRequest {
    Objects.requireNonNull(key, "key");
    if (bytes < 0) {
      throw new IllegalArgumentException("bytes must not be negative, got " + bytes);
    }
    if (ttl != null && ttl.isNegative()) {
      throw new IllegalArgumentException("ttl must not be negative, got " + ttl);
    }
    Objects.requireNonNull(modelName, "modelName");
    Objects.requireNonNull(targetModelName, "targetModelName");
  }

  /** A request without model names. */
  public FlowRequest(FlowKey key, long bytes, long receivedNanos, Duration ttl, long deadlineNanos, Object payload) {
    this(key, bytes, receivedNanos, ttl, deadlineNanos, payload, "", "");
  }

  /** A request with the default TTL, no SLO deadline and no payload. */
  public static FlowRequest of(FlowKey key, long bytes, long receivedNanos) {
    return new FlowRequest(key, bytes, receivedNanos, null, Long.MAX_VALUE, null);
  }
}
