package dev.epp.scheduler.plugins.prefix;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;

/** The index, with the Go indexer_test.go cases and the per-server contiguity and concurrency guarantees. */
class PrefixIndexTest {

  private static long[] hashes(long... values) {
    return values;
  }

  /** The names of the servers listed as holding {@code hash}. */
  private static Set<String> holders(PrefixIndex index, long hash) {
    Set<String> names = new HashSet<>();
    index.forEachHolder((h, ids) -> {
      if (h == hash) {
        for (int id : ids) {
          names.add(index.name(id));
        }
      }
    });
    return names;
  }

  /**
   * Every listed holder is a live server whose LRU holds the hash, every LRU entry is listed, no server exceeds its
   * capacity, and {@link PrefixIndex#size()} is the sum of the LRU sizes.
   */
  static void assertConsistent(PrefixIndex index) {
    List<String> problems = new ArrayList<>();
    long[] count = {0};
    index.forEachHolder((hash, ids) -> {
      count[0] += ids.length;
      for (int id : ids) {
        String name = index.name(id);
        if (name == null || !index.holds(name, hash)) {
          problems.add("hash " + hash + " lists " + id + " (" + name + ") which does not hold it");
        }
      }
    });
    long listed = count[0];
    long sum = 0;
    for (String server : index.servers()) {
      int size = index.size(server);
      assertTrue(size <= index.capacity(server), server + " holds " + size + " > capacity");
      sum += size;
    }
    assertTrue(problems.isEmpty(), () -> String.join("\n", problems));
    assertEquals(sum, listed, "LRU entries and holder listings differ");
    assertEquals(sum, index.size(), "size() is not the sum of the servers' sizes");
  }

  @Test
  void addAndGetWithServerDefinedCapacity() {
    // Go TestIndexer_AddAndGet: a server capacity of 2 (its scraped num_gpu_blocks) bounds its LRU.
    PrefixIndex index = new PrefixIndex();
    index.add("server1", 2, hashes(1));
    assertEquals(1, index.size("server1"));
    assertEquals(Set.of("server1"), holders(index, 1));
    index.add("server1", 2, hashes(2));
    assertEquals(2, index.size("server1"));
    index.add("server1", 2, hashes(3));
    assertEquals(2, index.size("server1"), "hash 1 was evicted");
    assertEquals(Set.of(), holders(index, 1));
    assertEquals(Set.of(), holders(index, 4));
    assertConsistent(index);
  }

  @Test
  void removeServerAndEviction() {
    // Go TestIndexer_RemovePodAndEviction.
    int capacity = 10;
    PrefixIndex index = new PrefixIndex();
    for (long h = 0; h < capacity; h++) {
      index.add("server1", capacity, hashes(h));
      index.add("server2", capacity, hashes(h));
    }
    assertEquals(capacity, index.size("server1"));
    assertEquals(capacity, index.size("server2"));
    for (long h = 0; h < capacity; h++) {
      assertEquals(Set.of("server1", "server2"), holders(index, h));
    }
    index.add("server1", capacity, hashes(capacity)); // evicts hash 0 from server1
    assertEquals(capacity, index.size("server1"));
    assertEquals(Set.of("server2"), holders(index, 0));

    index.remove("server2");
    assertEquals(Set.of(), holders(index, 0));
    int[] listed = {0};
    index.forEachHolder((hash, ids) -> {
      listed[0]++;
      assertEquals(Set.of("server1"), holders(index, hash));
    });
    assertEquals(capacity, listed[0]);
    assertEquals(capacity, index.size());
    assertConsistent(index);
  }

  @Test
  void concurrentAddAndRemoveLeaveNoDanglingServer() throws Exception {
    // Go TestIndexer_ConcurrentAddRemovePod, adapted: a removal wins over a racing addition, so afterwards the
    // server is either gone entirely or fully listed.
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      for (int iteration = 0; iteration < 100; iteration++) {
        PrefixIndex index = new PrefixIndex();
        CountDownLatch start = new CountDownLatch(1);
        Future<?> add = pool.submit(() -> {
          start.await();
          index.add("pod1", 10, hashes(1, 2, 3));
          return null;
        });
        Future<?> remove = pool.submit(() -> {
          start.await();
          index.remove("pod1");
          return null;
        });
        start.countDown();
        add.get(1, TimeUnit.MINUTES);
        remove.get(1, TimeUnit.MINUTES);
        assertConsistent(index);
        if (!index.servers().contains("pod1")) {
          assertEquals(0, index.size());
        }
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void serverCountsABlockOnlyIfItHoldsEveryEarlierBlock() {
    PrefixIndex index = new PrefixIndex();
    index.add("a", 100, hashes(11, 12, 13, 14)); // all four blocks
    index.add("b", 100, hashes(12, 13, 14)); // blocks 2..4, not block 1
    index.add("c", 100, hashes(11, 12, 14)); // blocks 1, 2 and 4
    PrefixIndex.Matches matches = index.match(hashes(11, 12, 13, 14));
    assertEquals(4, matches.blocks(index.id("a")));
    assertEquals(0, matches.blocks(index.id("b")), "Go v1.5 would credit 3 blocks");
    assertEquals(2, matches.blocks(index.id("c")), "Go v1.5 would credit 3 blocks");
    assertEquals(0, matches.blocks(-1));
  }

  @Test
  void matchStopsAtTheFirstBlockNoCandidateAdvancesOn() {
    PrefixIndex index = new PrefixIndex();
    index.add("a", 100, hashes(1, 2));
    index.add("b", 100, hashes(3, 4)); // holds blocks 3 and 4 of the prompt but not 1 or 2
    PrefixIndex.Matches matches = index.match(hashes(1, 2, 3, 4));
    assertEquals(2, matches.blocks(index.id("a")));
    assertEquals(0, matches.blocks(index.id("b")));
    assertTrue(index.match(hashes(9, 1, 2)).isEmpty());
    assertTrue(index.match(new long[0]).isEmpty());
  }

  @Test
  void evictsLeastRecentlyUsedAtCapacityAndTouchKeepsHashes() {
    PrefixIndex index = new PrefixIndex();
    index.add("s", 3, hashes(1, 2, 3));
    index.add("s", 3, hashes(1)); // touch: 2 is now the eldest
    index.add("s", 3, hashes(4));
    assertTrue(index.holds("s", 1));
    assertFalse(index.holds("s", 2));
    assertEquals(Set.of(), holders(index, 2));
    assertEquals(3, index.size());
    // More hashes than the capacity in one call: only the last ones stay, and none is listed without being held.
    index.add("s", 3, LongStream.rangeClosed(10, 20).toArray());
    assertEquals(3, index.size("s"));
    assertTrue(index.holds("s", 20) && index.holds("s", 19) && index.holds("s", 18));
    assertConsistent(index);
  }

  @Test
  void capacityIsFixedWhenTheServerIsFirstSeen() {
    PrefixIndex index = new PrefixIndex();
    index.add("s", 2, hashes(1));
    index.add("s", 1000, hashes(2, 3));
    assertEquals(2, index.capacity("s"));
    assertEquals(2, index.size("s"));
  }

  @Test
  void removedServerIsNotRecreatedByALateAdditionUntilAddedAgain() {
    PrefixIndex index = new PrefixIndex();
    index.add("s", 10, hashes(1, 2));
    index.remove("s");
    assertEquals(0, index.size());
    index.add("s", 10, hashes(1, 2)); // a request routed to s just before it left
    assertEquals(0, index.size());
    assertEquals(Set.of(), index.servers());
    index.added("s");
    index.add("s", 10, hashes(1, 2));
    assertEquals(2, index.size());
    assertConsistent(index);
  }

  @Test
  void removedServersIdIsReused() {
    PrefixIndex index = new PrefixIndex();
    index.add("a", 10, hashes(1));
    int id = index.id("a");
    index.remove("a");
    index.add("b", 10, hashes(1));
    assertEquals(id, index.id("b"));
    assertEquals(-1, index.id("a"));
    assertEquals(Set.of("b"), holders(index, 1));
  }

  /**
   * Many threads add overlapping prompts for a few servers, match, and remove and re-add servers; afterwards the
   * index is consistent.
   */
  @Test
  void concurrentUpdatesLeaveAConsistentIndex() throws Exception {
    PrefixIndex index = new PrefixIndex();
    int threads = 8;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      CountDownLatch start = new CountDownLatch(1);
      List<Future<?>> futures = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        futures.add(pool.submit(() -> {
          start.await();
          ThreadLocalRandom random = ThreadLocalRandom.current();
          for (int op = 0; op < 3000; op++) {
            String server = "s" + random.nextInt(6);
            long[] prompt = LongStream.range(0, 1 + random.nextInt(40)).map(i -> i * 31 + random.nextInt(3)).toArray();
            int kind = random.nextInt(100);
            if (kind < 60) {
              index.add(server, 20 + random.nextInt(50), prompt);
            } else if (kind < 97) {
              assertNotNull(index.match(prompt));
            } else {
              index.remove(server);
              index.added(server);
            }
          }
          return null;
        }));
      }
      start.countDown();
      for (Future<?> future : futures) {
        future.get(1, TimeUnit.MINUTES);
      }
    } finally {
      pool.shutdownNow();
    }
    assertConsistent(index);
    assertTrue(index.size() > 0);
  }
}
