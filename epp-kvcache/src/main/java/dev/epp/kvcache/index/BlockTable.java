package dev.epp.kvcache.index;

import java.util.Arrays;

/**
 * A bounded map from {@code long} block keys to their packed (endpoint, tier) entries, oldest entry first, in
 * least-recently-used key order, without boxing: one stripe of {@link KvBlockIndex}.
 *
 * <p><b>Threading:</b> not thread-safe; the index guards each instance with its own monitor.
 */
final class BlockTable {

  /*
   * Nodes live in parallel arrays linked from eldest (head) to newest (tail); freed nodes are chained through next[].
   * A node with one entry keeps it in single[]; with more, more[] holds {count, entries...} and single[] is unused.
   * An open-addressing table with linear probing maps a key to its node (node + 1, 0 = empty), Fibonacci-hashed from
   * the key's high bits (the stripe was chosen from its low bits), deleting by backward shift: no tombstones. Arrays
   * start small and double up to the capacity: about 24 bytes per node plus 4 to 8 per key of table, and 16 + 4 per
   * entry for keys held by more than one (endpoint, tier).
   */

  /** No node. */
  static final int NIL = -1;

  private static final int INITIAL_NODES = 64;

  private final int capacity;
  private long[] keys;
  private int[] prev;
  private int[] next;
  private int[] single;
  private int[][] more;
  private int[] table;
  private int shift;
  private int size;
  private int allocated;
  private int freeHead = NIL;
  private int head = NIL;
  private int tail = NIL;

  /** An empty table holding at most {@code capacity} keys. */
  BlockTable(int capacity) {
    this.capacity = capacity;
    int nodes = Math.min(capacity, INITIAL_NODES);
    keys = new long[nodes];
    prev = new int[nodes];
    next = new int[nodes];
    single = new int[nodes];
    more = new int[nodes][];
    resizeTable(nodes);
  }

  /** The number of keys held. */
  int size() {
    return size;
  }

  /** The node of {@code key}, made the newest, or {@link #NIL}. */
  int get(long key) {
    int node = find(key);
    if (node != NIL && node != tail) {
      unlink(node);
      linkLast(node);
    }
    return node;
  }

  /**
   * Adds {@code entry} as the newest entry of {@code key} (dropping the oldest beyond {@code limit}) and makes the key
   * the newest, adding it if absent and evicting the eldest key when full.
   *
   * @return whether a key was evicted
   */
  boolean add(long key, int entry, int limit) {
    int node = get(key);
    if (node != NIL) {
      removeEntry(node, entry);
      int[] entries = more[node];
      int count = entries == null ? 1 : entries[0];
      if (count == limit) {
        removeAt(node, 0);
      }
      append(node, entry);
      return false;
    }
    boolean evicted = false;
    if (size == capacity) {
      delete(head);
      evicted = true;
    }
    insert(key, entry);
    return evicted;
  }

  /** Removes {@code entry} from {@code key}, and the key when it has no entry left; does not change the order. */
  void remove(long key, int entry) {
    int node = find(key);
    if (node != NIL && removeEntry(node, entry) && count(node) == 0) {
      delete(node);
    }
  }

  /** Whether some entry of {@code key} belongs to {@code endpointId}. */
  boolean holdsEndpoint(long key, int endpointId) {
    int node = find(key);
    return node != NIL && bestWeight(node, endpointId, null) > 0;
  }

  /** Removes every entry of {@code endpointId}, and the keys left without one. */
  void removeEndpoint(int endpointId) {
    int node = head;
    while (node != NIL) {
      int following = next[node];
      for (int i = count(node) - 1; i >= 0; i--) {
        if (entryAt(node, i) >>> 8 == endpointId) {
          removeAt(node, i);
        }
      }
      if (count(node) == 0) {
        delete(node);
      }
      node = following;
    }
  }

  /**
   * The highest weight of the tiers {@code node} holds for {@code endpointId} (tiers beyond {@code weights}, or all
   * when it is {@code null}, weigh 1.0), 0 when it holds none.
   */
  double bestWeight(int node, int endpointId, double[] weights) {
    double best = 0;
    for (int i = count(node) - 1; i >= 0; i--) {
      int entry = entryAt(node, i);
      if (entry >>> 8 == endpointId) {
        int tier = entry & 0xff;
        best = Math.max(best, weights != null && tier < weights.length ? weights[tier] : 1.0);
      }
    }
    return best;
  }

  /** The number of entries of {@code node}. */
  int count(int node) {
    int[] entries = more[node];
    return entries == null ? (single[node] == NIL ? 0 : 1) : entries[0];
  }

  /** Entry {@code i} of {@code node}, oldest first. */
  int entryAt(int node, int i) {
    int[] entries = more[node];
    return entries == null ? single[node] : entries[i + 1];
  }

  private void insert(long key, int entry) {
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
    single[node] = entry;
    more[node] = null;
    linkLast(node);
    size++;
    int mask = table.length - 1;
    int slot = slot(key);
    while (table[slot] != 0) {
      slot = (slot + 1) & mask;
    }
    table[slot] = node + 1;
  }

  private void append(int node, int entry) {
    int[] entries = more[node];
    int count = count(node);
    if (count == 0) {
      single[node] = entry;
      return;
    }
    if (entries == null) {
      entries = new int[] {1, single[node], 0};
    } else if (count + 1 == entries.length) {
      entries = Arrays.copyOf(entries, entries.length * 2 - 1);
    }
    entries[count + 1] = entry;
    entries[0] = count + 1;
    more[node] = entries;
  }

  /** Removes {@code entry} from {@code node}; whether it was there. */
  private boolean removeEntry(int node, int entry) {
    for (int i = count(node) - 1; i >= 0; i--) {
      if (entryAt(node, i) == entry) {
        removeAt(node, i);
        return true;
      }
    }
    return false;
  }

  private void removeAt(int node, int i) {
    int[] entries = more[node];
    if (entries == null) {
      single[node] = NIL;
      return;
    }
    int count = entries[0] - 1;
    System.arraycopy(entries, i + 2, entries, i + 1, count - i);
    if (count == 1) {
      single[node] = entries[1];
      more[node] = null;
    } else {
      entries[0] = count;
    }
  }

  private void delete(int node) {
    unlink(node);
    deleteSlot(keys[node], node);
    more[node] = null;
    next[node] = freeHead;
    freeHead = node;
    size--;
  }

  /** The node of {@code key} without changing the order, or {@link #NIL}. */
  int find(long key) {
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
    single = Arrays.copyOf(single, nodes);
    more = Arrays.copyOf(more, nodes);
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
