package dev.epp.kvcache.index;

import java.util.Arrays;

/**
 * One endpoint's engine block hashes and the request block keys each maps to, least recently stored first out when
 * full, without boxing. A hash mapped to one key (the engine's and the index's block sizes agree) keeps it in
 * {@code single}; to more, in {@code many}: about 36 bytes per hash.
 *
 * <p><b>Threading:</b> not thread-safe; the index guards each instance with its endpoint's monitor.
 */
final class EngineTable extends LinkedLongTable {

  private long[] single;
  private long[][] many;

  /** An empty table holding at most {@code capacity} hashes. */
  EngineTable(int capacity) {
    super(capacity);
    single = new long[nodes()];
    many = new long[nodes()][];
  }

  @Override
  void resizeValues(int nodes) {
    single = Arrays.copyOf(single, nodes);
    many = Arrays.copyOf(many, nodes);
  }

  @Override
  void releaseValues(int node) {
    many[node] = null;
  }

  /**
   * Maps {@code hash} to {@code keys[from, to)}, replacing what it mapped to without changing its place, or adding it
   * as the newest (evicting the eldest when full).
   */
  void put(long hash, long[] keys, int from, int to) {
    int node = find(hash);
    if (node == NIL) {
      if (isFull()) {
        delete(eldest());
      }
      node = insert(hash);
    }
    if (to - from == 1) {
      single[node] = keys[from];
      many[node] = null;
    } else {
      many[node] = Arrays.copyOfRange(keys, from, to);
    }
  }

  /** Removes {@code hash}. */
  void remove(long hash) {
    int node = find(hash);
    if (node != NIL) {
      delete(node);
    }
  }

  /** The number of request keys {@code node} maps to. */
  int keyCount(int node) {
    long[] keys = many[node];
    return keys == null ? 1 : keys.length;
  }

  /** Request key {@code i} of {@code node}. */
  long keyAt(int node, int i) {
    long[] keys = many[node];
    return keys == null ? single[node] : keys[i];
  }

  /** The last request key of {@code node}. */
  long lastKey(int node) {
    return keyAt(node, keyCount(node) - 1);
  }
}
