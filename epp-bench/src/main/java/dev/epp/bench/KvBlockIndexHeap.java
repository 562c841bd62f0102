package dev.epp.bench;

import dev.epp.kvcache.events.KvEvent;
import dev.epp.kvcache.index.BlockKeys;
import dev.epp.kvcache.index.KvBlockIndex;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.util.List;

/**
 * The heap the precise prefix-cache index takes per key once filled as in {@link KvBlockIndexBenchmark}: one million
 * blocks (2,000 prompts of 500 blocks over 100 pods), used heap after a full GC, minus the heap before.
 *
 * <p>Run: {@code java -Xmx4g -cp epp-bench/target/benchmarks.jar dev.epp.bench.KvBlockIndexHeap}
 */
public final class KvBlockIndexHeap {

  private KvBlockIndexHeap() {}

  /** Prints the index's keys, heap bytes and bytes per key. */
  public static void main(String[] args) {
    MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
    long before = usedAfterGc(memory);
    BlockKeys blockKeys = new BlockKeys(16, "");
    KvBlockIndex index = new KvBlockIndex(blockKeys, 2_000_000, 10, KvBlockIndex.defaultWeights());
    for (int p = 0; p < 2_000; p++) {
      int[] tokens = tokens(p, 8_000);
      long[] engine = new long[500];
      for (int b = 0; b < engine.length; b++) {
        engine[b] = (long) p * 1_000 + b;
      }
      index.apply("pod-" + p % 100 + "-rank-0", "model", List.of(new KvEvent.BlockStored(engine, 0, false, tokens, 16,
          null, "gpu", List.of())));
    }
    long after = usedAfterGc(memory);
    long keys = index.size();
    System.out.printf("keys %d, heap %d bytes, %.1f bytes per key (engine maps included)%n", keys, after - before,
        (double) (after - before) / keys);
  }

  private static long usedAfterGc(MemoryMXBean memory) {
    for (int i = 0; i < 3; i++) {
      System.gc();
    }
    return memory.getHeapMemoryUsage().getUsed();
  }

  private static int[] tokens(int seed, int count) {
    int[] tokens = new int[count];
    long state = seed * 0x9E3779B97F4A7C15L + 1;
    for (int i = 0; i < count; i++) {
      state = state * 6364136223846793005L + 1442695040888963407L;
      tokens[i] = (int) ((state >>> 33) % 128_000);
    }
    return tokens;
  }
}
