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
 * <p>A {@link Listener} hears every block that becomes resident, with its tokens, and every eviction, as vLLM's KV
 * events report them.
 *
 * <p><b>Threading:</b> not thread-safe; confined to its engine's clock thread.
 */
final class KvCache {

  /**
   * Hears the cache's changes, on the cache's thread, as they happen; must not call back into the cache.
   */
  interface Listener {

    /** Listens to nothing. */
    Listener NONE = new Listener() {
      @Override
      public void stored(long hash, long parentHash, boolean hasParent, int[] tokenIds, String loraName) {}

      @Override
      public void removed(long hash) {}
    };

    /**
     * A block became resident.
     *
     * @param parentHash the hash of the block before it in its sequence, if {@code hasParent}
     * @param tokenIds the block's tokens, owned by the listener
     * @param loraName the adapter the block belongs to, or {@code null} for the base model
     */
    void stored(long hash, long parentHash, boolean hasParent, int[] tokenIds, String loraName);

    /** A block was evicted. */
    void removed(long hash);
  }

  private final int capacity;
  private final Listener listener;
  /** Resident prompt blocks by hash, with their reference counts. */
  private final Map<Long, int[]> resident = new HashMap<>();
  /** Resident prompt blocks no sequence uses, least recently released first: the eviction order. */
  private final LinkedHashMap<Long, Boolean> unused = new LinkedHashMap<>();
  private int privateBlocks;

  /** A cache of {@code capacity} blocks that reports its changes to {@code listener}. */
  KvCache(int capacity, Listener listener) {
    if (capacity <= 0) {
      throw new IllegalArgumentException("KV cache blocks must be positive, got " + capacity);
    }
    this.capacity = capacity;
    this.listener = listener;
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
   * @param prompt the prompt's full blocks
   * @param privateCount blocks only this sequence uses
   * @return how many leading prompt blocks were already resident (the cached prefix), or -1 if the blocks do not fit
   *     now, in which case nothing changed
   */
  int allocate(TokenBlocks prompt, int privateCount) {
    long[] hashes = prompt.hashes();
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
    for (int i = 0; i < hashes.length; i++) {
      if (!resident.containsKey(hashes[i])) {
        if (resident.size() + privateBlocks == capacity) {
          evictOne();
        }
        resident.put(hashes[i], new int[] {1});
        stored(prompt, i);
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
   * @param prompt what {@link #allocate} took
   * @param written the full blocks of prompt plus output: those after the prompt's, at most {@code privateCount} of
   *     them, become cached
   */
  void release(TokenBlocks prompt, int privateCount, TokenBlocks written) {
    long[] hashes = prompt.hashes();
    long[] all = written.hashes();
    privateBlocks -= privateCount;
    for (int i = hashes.length; i < all.length; i++) {
      if (!resident.containsKey(all[i])) {
        resident.put(all[i], new int[] {0});
        stored(written, i);
      }
    }
    for (int i = all.length - 1; i >= hashes.length; i--) { // tail first, so the tail is evicted first
      if (resident.get(all[i])[0] == 0) {
        unused.remove(all[i]);
        unused.put(all[i], Boolean.TRUE);
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
    listener.removed(hash);
  }

  private void stored(TokenBlocks blocks, int block) {
    if (listener == Listener.NONE) {
      return;
    }
    listener.stored(blocks.hashes()[block], block == 0 ? 0 : blocks.hashes()[block - 1], block > 0,
        blocks.blockTokens(block), blocks.loraName());
  }
}
