package dev.epp.kvcache.index;

import java.util.Arrays;

/**
 * A bounded map from {@code long} block keys to their packed (endpoint, tier) entries, oldest entry first, in
 * least-recently-used key order, without boxing: one stripe of {@link KvBlockIndex}.
 *
 * <p>A node with one entry keeps it in {@code single}; with more, {@code more} holds {@code {count, entries...}}:
 * about 24 bytes per key plus its table slot, and 16 + 4 per entry for keys held by more than one (endpoint, tier).
 *
 * <p><b>Threading:</b> not thread-safe; the index guards each instance with its own monitor.
 */
final class BlockTable extends LinkedLongTable {

  private int[] single;
  private int[][] more;

  /** An empty table holding at most {@code capacity} keys. */
  BlockTable(int capacity) {
    super(capacity);
    single = new int[nodes()];
    more = new int[nodes()][];
  }

  @Override
  void resizeValues(int nodes) {
    single = Arrays.copyOf(single, nodes);
    more = Arrays.copyOf(more, nodes);
  }

  @Override
  void releaseValues(int node) {
    more[node] = null;
  }

  /** The node of {@code key}, made the newest, or {@link #NIL}. */
  int get(long key) {
    int node = find(key);
    if (node != NIL) {
      touch(node);
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
      if (count(node) == limit) {
        removeAt(node, 0);
      }
      append(node, entry);
      return false;
    }
    boolean evicted = isFull();
    if (evicted) {
      delete(eldest());
    }
    node = insert(key);
    single[node] = entry;
    more[node] = null;
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
    int node = eldest();
    while (node != NIL) {
      int following = newer(node);
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
}
