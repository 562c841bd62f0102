package dev.epp.scheduler.flowcontrol;

import java.util.concurrent.CompletableFuture;

/** A request's place in the {@link FlowController}. */
public interface Ticket {

  /**
   * Completes exactly once: {@link Outcome.Kind#DISPATCHED} when the request may proceed, otherwise the reason it was
   * dropped. Completed on the thread that decided (the dispatching, sweeping, cancelling or closing thread), so heavy
   * continuations belong on an executor ({@code thenAcceptAsync}).
   */
  CompletableFuture<Outcome> outcome();

  /**
   * The client is gone: a request still queued leaves its queue at once (O(log n)) and completes with
   * {@link Outcome.Kind#CANCELLED}; after any other outcome this does nothing.
   */
  void cancel();
}
