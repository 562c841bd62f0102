package dev.epp.scheduler.plugins.prefix;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

class HolderTableTest {

  private static int[] ids(TreeSet<Integer> set) {
    return set.stream().mapToInt(Integer::intValue).toArray();
  }

  @Test
  void addGetRemoveAcrossInlineAndOverflowHolders() {
    HolderTable table = new HolderTable();
    assertNull(table.get(42));
    table.add(42, 5);
    assertArrayEquals(new int[] {5}, table.get(42));
    table.add(42, 5);
    table.add(42, 1);
    table.add(42, 9);
    assertArrayEquals(new int[] {1, 5, 9}, table.get(42)); // inline
    table.add(42, 3);
    assertArrayEquals(new int[] {1, 3, 5, 9}, table.get(42)); // overflow
    table.remove(42, 5);
    assertArrayEquals(new int[] {1, 3, 9}, table.get(42)); // inline again
    table.remove(42, 7); // not listed
    table.remove(43, 1); // no such key
    table.remove(42, 1);
    table.remove(42, 3);
    table.remove(42, 9);
    assertNull(table.get(42));
    assertEquals(0, table.keys());
    table.add(42, 2); // reuses the tombstone
    assertArrayEquals(new int[] {2}, table.get(42));
    assertEquals(1, table.keys());
  }

  @Test
  void keyZeroNegativeKeysAndLargeIds() {
    HolderTable table = new HolderTable();
    table.add(0, 0);
    table.add(-1, 7);
    table.add(Long.MIN_VALUE, 3_000_000); // beyond the inline field width
    table.add(Long.MIN_VALUE, 1);
    assertArrayEquals(new int[] {0}, table.get(0));
    assertArrayEquals(new int[] {7}, table.get(-1));
    assertArrayEquals(new int[] {1, 3_000_000}, table.get(Long.MIN_VALUE));
    table.remove(Long.MIN_VALUE, 1);
    assertArrayEquals(new int[] {3_000_000}, table.get(Long.MIN_VALUE));
    assertEquals(3, table.keys());
  }

  @Test
  void advanceCountsOnlyServersAtTheCurrentBlock() {
    HolderTable table = new HolderTable();
    for (int id : new int[] {1, 4, 6}) {
      table.add(100, id); // inline
    }
    for (int id : new int[] {1, 2, 4, 6, 8}) {
      table.add(200, id); // overflow
    }
    int[] ids = {1, 2, 4, 6, 9};
    int[] blocks = {3, 3, 2, 3, 3};
    assertEquals(2, table.advance(100, ids, blocks, 3)); // 1 and 6; 4 is behind, 2 and 9 do not hold it
    assertArrayEquals(new int[] {4, 3, 2, 4, 3}, blocks);
    assertEquals(2, table.advance(200, ids, blocks, 4)); // 1 and 6
    assertArrayEquals(new int[] {5, 3, 2, 5, 3}, blocks);
    assertEquals(0, table.advance(300, ids, blocks, 5));
  }

  /**
   * Keys built to share their segment and their home slot (the last one) at every table size: one probe sequence
   * that wraps around the end of the table, through rebuilds and tombstones. Block hashes are unkeyed XXH64, so a
   * client choosing prompt blocks can produce such keys by search; they must stay correct, only slower.
   */
  @Test
  void keysWithOneHomeSlotProbeAroundTheEndOfTheTable() {
    long inverse = 0x9E3779B97F4A7C15L; // of the multiplier, by Newton's iteration modulo 2^64
    for (int i = 0; i < 5; i++) {
      inverse *= 2 - 0x9E3779B97F4A7C15L * inverse;
    }
    long[] keys = new long[3_000];
    for (int i = 0; i < keys.length; i++) {
      long mixed = 0xFFFF_FFFF_0000_0000L | (i * 0x9E37L + 1); // same top 32 bits: segment 63, home = last slot
      long h = mixed ^ (mixed >>> 29) ^ (mixed >>> 58); // inverts h ^ (h >>> 29)
      keys[i] = h * inverse;
    }
    HolderTable table = new HolderTable(0);
    for (int i = 0; i < keys.length; i++) {
      table.add(keys[i], i % 5);
    }
    for (int i = 0; i < keys.length; i += 2) {
      table.remove(keys[i], i % 5);
    }
    for (int i = 0; i < keys.length; i += 3) {
      table.add(keys[i], 7);
    }
    for (int i = 0; i < keys.length; i++) {
      int[] expected = i % 2 == 0
          ? (i % 3 == 0 ? new int[] {7} : null)
          : (i % 3 == 0 ? new int[] {i % 5, 7} : new int[] {i % 5});
      assertArrayEquals(expected, table.get(keys[i]), "key " + i);
    }
    assertEquals(keys.length / 2 + keys.length / 6, table.keys());
  }

  /** Random operations against a reference map, with enough keys and churn to rebuild every segment many times. */
  @Test
  void randomOperationsMatchAReferenceMapAndMemoryStaysBounded() {
    HolderTable table = new HolderTable();
    Map<Long, TreeSet<Integer>> reference = new HashMap<>();
    Random random = new Random(5);
    long[] keys = random.longs(20_000).toArray();
    for (int op = 0; op < 400_000; op++) {
      long key = keys[random.nextInt(keys.length)];
      int id = random.nextInt(6);
      if (random.nextInt(100) < 55) {
        table.add(key, id);
        reference.computeIfAbsent(key, k -> new TreeSet<>()).add(id);
      } else {
        table.remove(key, id);
        TreeSet<Integer> set = reference.get(key);
        if (set != null && set.remove(id) && set.isEmpty()) {
          reference.remove(key);
        }
      }
    }
    for (long key : keys) {
      TreeSet<Integer> set = reference.get(key);
      if (set == null) {
        assertNull(table.get(key));
      } else {
        assertArrayEquals(ids(set), table.get(key));
      }
    }
    Map<Long, int[]> listed = new HashMap<>();
    table.forEach(listed::put);
    assertEquals(reference.size(), listed.size());
    assertEquals(reference.size(), table.keys());
    // Then remove almost everything and churn new keys: tombstones are dropped and the tables stay small.
    for (Map.Entry<Long, TreeSet<Integer>> e : reference.entrySet()) {
      for (int id : e.getValue()) {
        table.remove(e.getKey(), id);
      }
    }
    assertEquals(0, table.keys());
    for (int round = 0; round < 50_000; round++) {
      long key = random.nextLong();
      table.add(key, 1);
      table.remove(key, 1);
    }
    table.add(1, 1);
    assertEquals(1, table.keys());
    assertTrue(table.slots() <= 64L * HolderTable.SEGMENTS, "slots " + table.slots());
  }

  /**
   * Writers, each owning one server id, add and remove their id on shared keys while readers look keys up. Keys held
   * by server 0 for the whole test are always found, whatever rebuilds happen; every array read is ascending and
   * holds only live ids; at the end the table equals the writers' own records.
   */
  @Test
  void concurrentWritersAndLockFreeReaders() throws Exception {
    HolderTable table = new HolderTable();
    long[] pinned = new Random(1).longs(500).toArray();
    for (long key : pinned) {
      table.add(key, 0);
    }
    long[] shared = new Random(2).longs(5_000).toArray();
    int writers = 4;
    int readers = 2;
    ExecutorService pool = Executors.newFixedThreadPool(writers + readers);
    AtomicBoolean done = new AtomicBoolean();
    CountDownLatch start = new CountDownLatch(1);
    List<Future<?>> readerFutures = new ArrayList<>();
    List<Future<Map<Long, Boolean>>> writerFutures = new ArrayList<>();
    try {
      for (int w = 1; w <= writers; w++) {
        int id = w;
        writerFutures.add(pool.submit(() -> {
          start.await();
          Random random = new Random(id);
          Map<Long, Boolean> held = new HashMap<>();
          for (int op = 0; op < 200_000; op++) {
            long key = shared[random.nextInt(shared.length)];
            if (random.nextBoolean()) {
              table.add(key, id);
              held.put(key, true);
            } else {
              table.remove(key, id);
              held.put(key, false);
            }
          }
          return held;
        }));
      }
      for (int r = 0; r < readers; r++) {
        int seed = 100 + r;
        readerFutures.add(pool.submit(() -> {
          start.await();
          Random random = new Random(seed);
          int[] probe = {0, 1, 2, 3, 4};
          int[] blocks = new int[5];
          while (!done.get()) {
            long key = pinned[random.nextInt(pinned.length)];
            int[] ids = table.get(key);
            if (ids == null || ids[0] != 0) {
              throw new AssertionError("pinned key lost: " + key);
            }
            java.util.Arrays.fill(blocks, 1);
            if (table.advance(key, probe, blocks, 1) < 1 || blocks[0] != 2) {
              throw new AssertionError("pinned key not advanced: " + key);
            }
            int[] other = table.get(shared[random.nextInt(shared.length)]);
            if (other != null) {
              for (int i = 0; i < other.length; i++) {
                if (other[i] < 1 || other[i] > writers || (i > 0 && other[i] <= other[i - 1])) {
                  throw new AssertionError("bad holders " + java.util.Arrays.toString(other));
                }
              }
            }
          }
          return null;
        }));
      }
      start.countDown();
      List<Map<Long, Boolean>> records = new ArrayList<>();
      for (Future<Map<Long, Boolean>> f : writerFutures) {
        records.add(f.get(2, TimeUnit.MINUTES));
      }
      done.set(true);
      for (Future<?> f : readerFutures) {
        f.get(1, TimeUnit.MINUTES);
      }
      for (long key : shared) {
        TreeSet<Integer> expected = new TreeSet<>();
        for (int w = 0; w < writers; w++) {
          if (records.get(w).getOrDefault(key, false)) {
            expected.add(w + 1);
          }
        }
        int[] actual = table.get(key);
        assertArrayEquals(expected.isEmpty() ? null : ids(expected), actual, "key " + key);
      }
    } finally {
      done.set(true);
      pool.shutdownNow();
    }
  }
}
