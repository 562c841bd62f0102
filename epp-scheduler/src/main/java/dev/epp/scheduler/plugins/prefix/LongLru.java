package dev.epp.scheduler.plugins.prefix;

import java.util.Arrays;
import java.util.function.LongConsumer;

/**
 * A bounded set of {@code long} keys in least-recently-used order, without boxing.
 *
 * <p><b>Threading:</b> not thread-safe; the prefix index guards each instance with its server's lock.
 */
final class LongLru {

  /*
   * Nodes live in parallel arrays (key, prev, next) linked from eldest (head) to newest (tail); an open-addressing
   * table with linear probing maps a key to its node (stored as node + 1, 0 = empty) and deletes by backward shift,
   * so there are no tombstones. Keys are XXH64 outputs, already uniformly mixed, so the table hashes by folding.
   * Arrays start small and double up to the capacity, so a server that never fills its capacity never pays for it:
   * about 24 to 32 bytes per key at any size. Keys are only ever removed by eviction or clear(), so a freed node is
   * always reused by the next insertion.
   */

  private static final int NIL = -1;
  private static final int INITIAL_NODES = 64;

  private final int capacity;
  private long[] keys;
  private int[] prev;
  private int[] next;
  private int[] table;
  private int size;
  private int allocated;
  private int freeNode = NIL;
  private int head = NIL;
  private int tail = NIL;

  /** An empty set holding at most {@code capacity} keys. */
  LongLru(int capacity) {
    if (capacity <= 0) {
      throw new IllegalArgumentException("capacity must be positive: " + capacity);
    }
    this.capacity = capacity;
    clear();
  }

  /** The most keys this set holds. */
  int capacity() {
    return capacity;
  }

  /** The number of keys held. */
  int size() {
    return size;
  }

  /** Whether another key can only be added after {@link #removeEldest()}. */
  boolean isFull() {
    return size == capacity;
  }

  /** Whether {@code key} is held; does not change the order. */
  boolean contains(long key) {
    return find(key) != NIL;
  }

  /** If {@code key} is held, makes it the newest and returns {@code true}. */
  boolean touch(long key) {
    int node = find(key);
    if (node == NIL) {
      return false;
    }
    if (node != tail) {
      unlink(node);
      linkLast(node);
    }
    return true;
  }

  /**
   * Adds {@code key}, which must not be held, as the newest key.
   *
   * @throws IllegalStateException if the set {@link #isFull()}
   */
  void addNewest(long key) {
    if (size == capacity) {
      throw new IllegalStateException("full");
    }
    int node;
    if (freeNode != NIL) {
      node = freeNode;
      freeNode = NIL;
    } else {
      if (allocated == keys.length) {
        grow();
      }
      node = allocated++;
    }
    keys[node] = key;
    linkLast(node);
    size++;
    int slot = slot(key);
    while (table[slot] != 0) {
      slot = (slot + 1) & (table.length - 1);
    }
    table[slot] = node + 1;
  }

  /**
   * Removes and returns the eldest key.
   *
   * @throws IllegalStateException if the set is empty
   */
  long removeEldest() {
    if (head == NIL) {
      throw new IllegalStateException("empty");
    }
    int node = head;
    long key = keys[node];
    unlink(node);
    deleteSlot(key, node);
    size--;
    freeNode = node;
    return key;
  }

  /** Calls {@code action} with every key, eldest first. */
  void forEach(LongConsumer action) {
    for (int node = head; node != NIL; node = next[node]) {
      action.accept(keys[node]);
    }
  }

  /** Removes every key and releases the storage beyond the initial size. */
  void clear() {
    int nodes = Math.min(capacity, INITIAL_NODES);
    keys = new long[nodes];
    prev = new int[nodes];
    next = new int[nodes];
    table = new int[tableSize(nodes)];
    size = 0;
    allocated = 0;
    freeNode = NIL;
    head = NIL;
    tail = NIL;
  }

  private int find(long key) {
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
    table = new int[tableSize(nodes)];
    int mask = table.length - 1;
    for (int node = head; node != NIL; node = next[node]) {
      int slot = slot(keys[node]);
      while (table[slot] != 0) {
        slot = (slot + 1) & mask;
      }
      table[slot] = node + 1;
    }
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

  private int slot(long key) {
    return (int) (key ^ (key >>> 32)) & (table.length - 1);
  }

  /** A power of two at least twice {@code nodes}, so the table stays at most half full. */
  private static int tableSize(int nodes) {
    return Integer.highestOneBit(Math.max(2, nodes) * 2 - 1) << 1;
  }
}
