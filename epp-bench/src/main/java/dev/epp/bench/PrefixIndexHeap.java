package dev.epp.bench;

import dev.epp.api.ConfigDialect;
import dev.epp.api.MetricsRecorder;
import dev.epp.api.Parameters;
import dev.epp.scheduler.plugins.prefix.ApproxPrefixCacheProducer;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The heap the approximate prefix-cache index ({@code approx-prefix-cache-producer}) takes once each of
 * {@code endpoints} servers holds {@code entries} block hashes (default 1,000 servers at the default
 * {@code lruCapacityPerServer}, 31,250: full), in inserts of 256 blocks: used heap after a full GC, minus the heap
 * before. Every hash is distinct (no two servers share a prefix), the worst case: shared prefixes add a holder to a
 * hash instead of a hash.
 *
 * <p>Run: {@code java -Xmx4g -cp epp-bench/target/benchmarks.jar dev.epp.bench.PrefixIndexHeap [endpoints
 * [entries]]}
 */
public final class PrefixIndexHeap {

  private static final int CAPACITY = 31_250;
  private static final int BLOCKS_PER_INSERT = 256;

  private PrefixIndexHeap() {}

  /** Prints the index's entries, heap bytes, bytes per entry and MB per server at the default capacity. */
  public static void main(String[] args) {
    int endpoints = args.length > 0 ? Integer.parseInt(args[0]) : 1_000;
    int entries = args.length > 1 ? Integer.parseInt(args[1]) : CAPACITY;
    MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
    long before = usedAfterGc(memory);
    ApproxPrefixCacheProducer producer = new ApproxPrefixCacheProducer("prefix", Parameters.of(Map.of()),
        ConfigDialect.LLM_D, MetricsRecorder.noop());
    SplittableRandom random = new SplittableRandom(42);
    long[] hashes = new long[BLOCKS_PER_INSERT];
    for (int e = 0; e < endpoints; e++) {
      String name = "pod-" + e + "-rank-0";
      for (int filled = 0; filled < entries; filled += hashes.length) {
        int n = Math.min(hashes.length, entries - filled);
        long[] insert = n == hashes.length ? hashes : new long[n];
        for (int i = 0; i < n; i++) {
          insert[i] = random.nextLong();
        }
        producer.applyRemoteInsert(name, CAPACITY, insert);
      }
    }
    long after = usedAfterGc(memory);
    long held = producer.indexSize();
    double perEntry = (double) (after - before) / held;
    System.out.printf("%d endpoints, %d entries, heap %.1f MB, %.1f bytes per entry, %.2f MB per endpoint at"
        + " %d entries%n", endpoints, held, (after - before) / 1e6, perEntry, perEntry * CAPACITY / 1e6, CAPACITY);
  }

  private static long usedAfterGc(MemoryMXBean memory) {
    for (int i = 0; i < 3; i++) {
      System.gc();
    }
    return memory.getHeapMemoryUsage().getUsed();
  }
}
