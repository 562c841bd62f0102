package dev.epp.scheduler.flowcontrol;

import dev.epp.api.flowcontrol.FlowQueue;
import dev.epp.api.flowcontrol.OrderingPolicy;
import java.util.Arrays;
import java.util.function.Consumer;

/**
 * One flow's queue: a binary heap ordered by the band's ordering policy then arrival, where each item knows its
 * index, so add, remove-head and remove-any are O(log n) without per-node allocation. Guarded by the controller's
 * lock.
 */
final class Flow implements FlowQueue {

  private final String fairnessId;
  private final OrderingPolicy ordering;
  private Item[] heap = new Item[4];
  private int size;
  /** When the flow last became empty (or was created); used for idle collection. */
  long idleSinceNanos;

  Flow(String fairnessId, OrderingPolicy ordering, long nowNanos) {
    this.fairnessId = fairnessId;
    this.ordering = ordering;
    this.idleSinceNanos = nowNanos;
  }

  @Override
  public String fairnessId() {
    return fairnessId;
  }

  @Override
  public int size() {
    return size;
  }

  @Override
  public Item head() {
    return size == 0 ? null : heap[0];
  }

  void add(Item item) {
    if (size == heap.length) {
      heap = Arrays.copyOf(heap, size * 2);
    }
    item.flow = this;
    siftUp(size++, item);
  }

  /** Removes {@code item}, which this flow holds. */
  void remove(Item item, long nowNanos) {
    int index = item.heapIndex;
    Item last = heap[--size];
    heap[size] = null;
    if (index != size) {
      siftDown(index, last);
      if (heap[index] == last) {
        siftUp(index, last);
      }
    }
    item.heapIndex = -1;
    item.flow = null;
    if (size == 0) {
      idleSinceNanos = nowNanos;
      if (heap.length > 64) {
        heap = new Item[4]; // release the memory of a burst
      }
    }
  }

  /** Passes every queued item to {@code action}, in no particular order; {@code action} must not modify the flow. */
  void forEach(Consumer<Item> action) {
    for (int i = 0; i < size; i++) {
      action.accept(heap[i]);
    }
  }

  private boolean before(Item a, Item b) {
    int c = ordering.compare(a, b);
    return c != 0 ? c < 0 : a.sequence < b.sequence;
  }

  private void siftUp(int index, Item item) {
    while (index > 0) {
      int parent = (index - 1) >>> 1;
      Item p = heap[parent];
      if (!before(item, p)) {
        break;
      }
      place(index, p);
      index = parent;
    }
    place(index, item);
  }

  private void siftDown(int index, Item item) {
    int half = size >>> 1;
    while (index < half) {
      int child = 2 * index + 1;
      Item c = heap[child];
      int right = child + 1;
      if (right < size && before(heap[right], c)) {
        child = right;
        c = heap[right];
      }
      if (!before(c, item)) {
        break;
      }
      place(index, c);
      index = child;
    }
    place(index, item);
  }

  private void place(int index, Item item) {
    heap[index] = item;
    item.heapIndex = index;
  }
}
