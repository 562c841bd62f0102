package dev.epp.api.flowcontrol;

/** What an ordering policy may inspect of a queued request. Times are ticker nanoseconds. */
public interface QueuedRequest {

  /** When the request entered the queue. */
  long enqueueNanos();

  /** When the EPP received the request. */
  long receivedNanos();

  /** How long the request may wait in the queue; 0 means without limit. */
  long ttlNanos();

  /** The request's SLO deadline ({@code x-llm-d-slo-ttft-ms} after receipt); {@link Long#MAX_VALUE} for none. */
  long deadlineNanos();

  /** The request's size in bytes, as counted against the queue's byte limits. */
  long bytes();
}
