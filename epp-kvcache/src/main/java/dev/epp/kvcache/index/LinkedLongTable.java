package dev.epp.kvcache.index;

import java.util.Arrays;

/**
 * A bounded set of {@code long} keys kept in a list from eldest to newest, without boxing; subclasses keep each key's
 * values in parallel arrays indexed by the key's node.
 *
 * <p><b>Threading:</b> not thread-safe.
 */
abstract class LinkedLongTable {

  /*
   * Nodes live in parallel arrays linked from eldest (head) to newest (tail); freed nodes are chained through next[].
   * An open-addressing table with linear probing maps a key to its node (node + 1, 0 = empty), Fibonacci-hashed from
   * the key's high bits (block keys pick their stripe from their low bits), deleting by backward shift: no
   * tombstones. Arrays start small and double up to the capacity: 16 bytes per node plus 4 to 8 per key of table.
   */

  /** No node. */
  static final int NIL = -1;

  private static final int INITIAL_NODES = 64;

  private final int capacity;
  private long[] keys;
  private int[] prev;
  private int[] next;
  private int[] table;
  private int shift;
  private int size;
  private int allocated;
  private int freeHead = NIL;
  private int head = NIL;
  private int tail = NIL;

  /** An empty table holding at most {@code capacity} keys. */
  LinkedLongTable(int capacity) {
    this.capacity = capacity;
    int nodes = Math.min(capacity, INITIAL_NODES);
    keys = new long[nodes];
    prev = new int[nodes];
    next = new int[nodes];
    resizeTable(nodes);
  }

  /** Makes the values' arrays {@code nodes} long, keeping what they hold. */
  abstract void resizeValues(int nodes);

  /** Releases what {@code node} refers to, as it is freed. */
  abstract void releaseValues(int node);

  /** The length of the node arrays now, for the values' arrays. */
  final int nodes() {
    return keys.length;
  }

  /** The number of keys held. */
  final int size() {
    return size;
  }

  /** Whether another key can only be added after the eldest is deleted. */
  final boolean isFull() {
    return size == capacity;
  }

  /** The eldest node, or {@link #NIL}. */
  final int eldest() {
    return head;
  }

  /** The node after {@code node} towards the newest, or {@link #NIL}. */
  final int newer(int node) {
    return next[node];
  }

  /** The key of {@code node}. */
  final long keyAt(int node) {
    return keys[node];
  }

  /** The node of {@code key} without changing the order, or {@link #NIL}. */
  final int find(long key) {
    int mask = table.length - 1;
    for (int slot = slot(key); ; slot = (slot + 1) & mask) {
      int entry = table[slot];
      if (entry == 0) {
        return NIL;
      }
      if (keys[entry - 1] == key) {
        return entry - 1;
      }
    }
  }

  /** Makes {@code node} the newest. */
  final void touch(int node) {
    if (node != tail) {
      unlink(node);
      linkLast(node);
    }
  }

  /** Adds {@code key}, which must be absent while the table is not full, as the newest; returns its node. */
  final int insert(long key) {
    int node;
    if (freeHead != NIL) {
      node = freeHead;
      freeHead = next[node];
    } else {
      if (allocated == keys.length) {
        grow();
      }
      node = allocated++;
    }
    keys[node] = key;
    linkLast(node);
    size++;
    int mask = table.length - 1;
    int slot = slot(key);
    while (table[slot] != 0) {
      slot = (slot + 1) & mask;
    }
    table[slot] = node + 1;
    return node;
  }

  /** Deletes {@code node} and its key. */
  final void delete(int node) {
    unlink(node);
    deleteSlot(keys[node], node);
    releaseValues(node);
    next[node] = freeHead;
    freeHead = node;
    size--;
  }

  private void deleteSlot(long key, int node) {
    int mask = table.length - 1;
    int hole = slot(key);
    while (table[hole] != node + 1) {
      hole = (hole + 1) & mask;
    }
    // Backward-shift deletion: move later entries of the probe run into the hole when their home slot allows it.
    for (int j = (hole + 1) & mask; table[j] != 0; j = (j + 1) & mask) {
      int home = slot(keys[table[j] - 1]);
      boolean stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (!stays) {
        table[hole] = table[j];
        hole = j;
      }
    }
    table[hole] = 0;
  }

  private void grow() {
    int nodes = (int) Math.min(capacity, keys.length * 2L);
    keys = Arrays.copyOf(keys, nodes);
    prev = Arrays.copyOf(prev, nodes);
    next = Arrays.copyOf(next, nodes);
    resizeValues(nodes);
    resizeTable(nodes);
    int mask = table.length - 1;
    for (int node = head; node != NIL; node = next[node]) {
      int slot = slot(keys[node]);
      while (table[slot] != 0) {
        slot = (slot + 1) & mask;
      }
      table[slot] = node + 1;
    }
  }

  /** A table of a power of two at least twice {@code nodes} slots, so it stays at most half full. */
  private void resizeTable(int nodes) {
    int slots = Integer.highestOneBit(Math.max(2, nodes) * 2 - 1) << 1;
    table = new int[slots];
    shift = 64 - Integer.numberOfTrailingZeros(slots);
  }

  private int slot(long key) {
    return (int) ((key * 0x9E3779B97F4A7C15L) >>> shift);
  }

  private void unlink(int node) {
    int p = prev[node];
    int n = next[node];
    if (p == NIL) {
      head = n;
    } else {
      next[p] = n;
    }
    if (n == NIL) {
      tail = p;
    } else {
      prev[n] = p;
    }
  }

  private void linkLast(int node) {
    prev[node] = tail;
    next[node] = NIL;
    if (tail == NIL) {
      head = node;
    } else {
      next[tail] = node;
    }
    tail = node;
  }
}
