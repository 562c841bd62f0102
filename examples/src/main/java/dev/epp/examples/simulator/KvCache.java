package dev.epp.examples.simulator;

import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A paged KV cache with automatic prefix caching, after vLLM's block manager.
 *
 * <p>The cache has a fixed number of blocks. A sequence holds two kinds: <em>prompt blocks</em>, the full blocks of
 * its prompt, identified by their chained hash and shared with every sequence whose prompt starts the same way; and
 * <em>private blocks</em> for its partial last prompt block and its output, which no one else can use while it runs.
 * When the sequence ends, its private blocks that filled up (prompt tail plus output) become cached blocks too, so a
 * follow-up request that sends the output back hits them. A cached block stays resident after its last user
 * releases it, and is evicted least recently released first, a sequence's tail blocks before its head, so that a
 * cached prefix shrinks from the end. Usage counts the blocks in
 * use by sequences, as vLLM's {@code kv_cache_usage_perc} does; resident but unused blocks count as free.
 *
 * <p><b>Threading:</b> not thread-safe; confined to its engine's clock thread.
 */
final class KvCache {

  private final int capacity;
  /** Resident prompt blocks by hash, with their reference counts. */
  private final Map<Long, int[]> resident = new HashMap<>();
  /** Resident prompt blocks no sequence uses, least recently released first: the eviction order. */
  private final LinkedHashMap<Long, Boolean> unused = new LinkedHashMap<>();
  private int privateBlocks;

  /** A cache of {@code capacity} blocks. */
  KvCache(int capacity) {
    if (capacity <= 0) {
      throw new IllegalArgumentException("KV cache blocks must be positive, got " + capacity);
    }
    this.capacity = capacity;
  }

  int capacity() {
    return capacity;
  }

  /** The fraction of blocks held by sequences, in [0, 1]. */
  double usage() {
    return (double) usedBlocks() / capacity;
  }

  /** Blocks held by sequences. */
  int usedBlocks() {
    return resident.size() - unused.size() + privateBlocks;
  }

  /**
   * Allocates a sequence's blocks, reusing resident prompt blocks and evicting unused ones as needed.
   *
   * @param hashes the chained hashes of the prompt's full blocks, in order
   * @param privateCount blocks only this sequence uses
   * @return how many leading prompt blocks were already resident (the cached prefix), or -1 if the blocks do not fit
   *     now, in which case nothing changed
   */
  int allocate(long[] hashes, int privateCount) {
    int cachedPrefix = 0;
    while (cachedPrefix < hashes.length && resident.containsKey(hashes[cachedPrefix])) {
      cachedPrefix++;
    }
    int reused = 0;
    int reusedUnused = 0;
    for (long hash : hashes) {
      if (resident.containsKey(hash)) {
        reused++;
        if (unused.containsKey(hash)) {
          reusedUnused++;
        }
      }
    }
    int empty = capacity - resident.size() - privateBlocks;
    int evictable = unused.size() - reusedUnused;
    if (hashes.length - reused + privateCount > empty + evictable) {
      return -1;
    }
    for (long hash : hashes) {
      int[] refs = resident.get(hash);
      if (refs != null) {
        if (refs[0]++ == 0) {
          unused.remove(hash);
        }
      }
    }
    for (long hash : hashes) {
      if (!resident.containsKey(hash)) {
        if (resident.size() + privateBlocks == capacity) {
          evictOne();
        }
        resident.put(hash, new int[] {1});
      }
    }
    for (int i = 0; i < privateCount; i++) {
      if (resident.size() + privateBlocks == capacity) {
        evictOne();
      }
      privateBlocks++;
    }
    return cachedPrefix;
  }

  /**
   * Releases what {@link #allocate} took. Prompt blocks stay resident until evicted, and so do the full blocks the
   * sequence wrote.
   *
   * @param written the chained hashes of the full blocks after the prompt's (prompt tail plus output), at most
   *     {@code privateCount} of them
   */
  void release(long[] hashes, int privateCount, long[] written) {
    privateBlocks -= privateCount;
    for (int i = written.length - 1; i >= 0; i--) { // tail first, so the tail is evicted first
      if (!resident.containsKey(written[i])) {
        resident.put(written[i], new int[] {0});
      }
      if (resident.get(written[i])[0] == 0) {
        unused.remove(written[i]);
        unused.put(written[i], Boolean.TRUE);
      }
    }
    for (int i = hashes.length - 1; i >= 0; i--) {
      int[] refs = resident.get(hashes[i]);
      if (refs != null && --refs[0] == 0) {
        unused.put(hashes[i], Boolean.TRUE);
      }
    }
  }

  private void evictOne() {
    Iterator<Long> eldest = unused.keySet().iterator();
    long hash = eldest.next();
    eldest.remove();
    resident.remove(hash);
  }
}
