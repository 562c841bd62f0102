package dev.epp.scheduler.flowcontrol;

import java.util.Objects;

/**
 * How flow control finished with a request.
 *
 * @param kind what happened
 * @param queuedNanos how long the request was held, from enqueue to this outcome
 */
public record Outcome(Kind kind, long queuedNanos) {

  /** @throws NullPointerException if {@code kind} is {@code null} */
  public Outcome {
    Objects.requireNonNull(kind, "kind");
  }

  /**
   * The outcomes, with llm-d's metric label, {@code x-llm-d-request-dropped-reason} value and HTTP status: 429 means
   * capacity exists but is contended, 503 that none is available (or the client or the EPP is going away). GIE v1.5
   * answers a TTL eviction with 503 and has no no-endpoint outcomes; these follow llm-d.
   */
  public enum Kind {
    /** The pool can take the request: route it. */
    DISPATCHED("Dispatched", null, 200),
    /** The global or the band's request or byte limit was reached at enqueue. */
    REJECTED_CAPACITY("RejectedCapacity", "rejected-saturated", 429),
    /** A limit was reached at enqueue while the pool had no endpoints. */
    REJECTED_NO_ENDPOINTS("RejectedNoEndpoints", "rejected-no-endpoints", 503),
    /** The request waited its TTL while the pool had endpoints but stayed saturated. */
    EVICTED_TTL("EvictedTTL", "rejected-ttl-expired", 429),
    /** The request waited {@code noEndpointRequestTTL} while the pool had no endpoints. */
    EVICTED_NO_ENDPOINTS("EvictedNoEndpoints", "rejected-no-endpoints", 503),
    /** The caller cancelled the ticket (the client disconnected). */
    CANCELLED("EvictedContextCancelled", "rejected-context-cancelled", 503),
    /** The controller was closed before the request could be dispatched. */
    SHUTTING_DOWN("EvictedOther", "rejected-shutting-down", 503);

    private final String label;
    private final String droppedReason;
    private final int httpStatus;

    Kind(String label, String droppedReason, int httpStatus) {
      this.label = label;
      this.droppedReason = droppedReason;
      this.httpStatus = httpStatus;
    }

    /** llm-d's {@code outcome} metric label, e.g. {@code RejectedCapacity}. */
    public String label() {
      return label;
    }

    /** The {@code x-llm-d-request-dropped-reason} header value; {@code null} for {@link #DISPATCHED}. */
    public String droppedReason() {
      return droppedReason;
    }

    /** The HTTP status to answer a dropped request with; 200 for {@link #DISPATCHED}. */
    public int httpStatus() {
      return httpStatus;
    }
  }
}
