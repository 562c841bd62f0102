package dev.epp.scheduler.flowcontrol;

import dev.epp.api.flowcontrol.QueuedRequest;
import java.util.concurrent.CompletableFuture;

/** A request held by the controller; also its ticket. Queue fields are guarded by the controller's lock. */
final class Item implements Ticket, QueuedRequest {

  final FlowController controller;
  final FlowRequest request;
  final long enqueueNanos;
  final long ttlNanos;
  /** Arrival order, the tie-breaker after the ordering policy. */
  final long sequence;
  final CompletableFuture<Outcome> outcome = new CompletableFuture<>();
  /** The flow holding this item, or {@code null} when it is not queued. */
  Flow flow;
  /** The item's index in its flow's heap; -1 when it is not queued. */
  int heapIndex = -1;

  Item(FlowController controller, FlowRequest request, long enqueueNanos, long ttlNanos, long sequence) {
    this.controller = controller;
    this.request = request;
    this.enqueueNanos = enqueueNanos;
    this.ttlNanos = ttlNanos;
    this.sequence = sequence;
  }

  @Override
  public CompletableFuture<Outcome> outcome() {
    return outcome;
  }

  @Override
  public void cancel() {
    controller.cancel(this);
  }

  @Override
  public long enqueueNanos() {
    return enqueueNanos;
  }

  @Override
  public long receivedNanos() {
    return request.receivedNanos();
  }

  @Override
  public long ttlNanos() {
    return ttlNanos;
  }

  @Override
  public long deadlineNanos() {
    return request.deadlineNanos();
  }

  @Override
  public long bytes() {
    return request.bytes();
  }
}
