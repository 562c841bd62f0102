package dev.epp.kvcache.index;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.kvcache.events.KvEvent;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class KvBlockIndexTest {

  private static final String MODEL = "m";
  private static final int[] PROMPT = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  private static final String[] AB = {"a", "b"};

  private final BlockKeys blockKeys = new BlockKeys(4, "");
  private final KvBlockIndex index = new KvBlockIndex(blockKeys, 1000, 10, KvBlockIndex.defaultWeights());
  private final long[] keys = blockKeys.keys(MODEL, PROMPT);

  private static KvEvent.BlockStored stored(long[] engine, Long parent, int[] tokens, String medium) {
    return new KvEvent.BlockStored(engine, parent == null ? 0 : parent, parent != null, tokens, 4, null, medium,
        List.of());
  }

  private static int[] tokens(int from, int to) {
    return Arrays.copyOfRange(PROMPT, from, to);
  }

  private void apply(String endpoint, KvEvent... events) {
    index.apply(endpoint, MODEL, List.of(events));
  }

  @Test
  void storedBlocksMatchAsALeadingRunPerEndpoint() {
    apply("a", stored(new long[] {101, 102}, null, tokens(0, 8), "gpu"));
    apply("b", stored(new long[] {201}, null, tokens(0, 4), "gpu"));
    assertArrayEquals(new double[] {2, 1}, index.match(keys, AB));
    assertArrayEquals(new double[] {0, 0}, index.match(blockKeys.keys("other", PROMPT), AB));
    assertEquals(2, index.size());
  }

  @Test
  void aStoreChainsFromItsParentsRequestKey() {
    apply("a", stored(new long[] {101}, null, tokens(0, 4), "gpu"));
    apply("a", stored(new long[] {102, 103}, 101L, tokens(4, 12), "gpu"));
    assertArrayEquals(new double[] {3, 0}, index.match(keys, AB));
  }

  @Test
  void aStoreWithAnUnknownParentIsSkippedAndCounted() {
    apply("a", stored(new long[] {102}, 999L, tokens(4, 8), "gpu"));
    assertEquals(0, index.size());
    assertEquals(1, index.skippedStores());
  }

  @Test
  void aStoreWithExtraKeysIsSkippedAndCounted() {
    apply("a", new KvEvent.BlockStored(new long[] {101}, 0, false, tokens(0, 4), 4, null, "gpu",
        List.of(List.of("salt"))));
    assertEquals(0, index.size());
    assertEquals(1, index.skippedStores());
  }

  @Test
  void theLoraNameIsTheModelOfTheKeys() {
    index.apply("a", "base", List.of(new KvEvent.BlockStored(new long[] {101}, 0, false, tokens(0, 4), 4,
        "adapter", "gpu", List.of())));
    assertArrayEquals(new double[] {1}, index.match(blockKeys.keys("adapter", PROMPT), new String[] {"a"}));
    assertArrayEquals(new double[] {0}, index.match(blockKeys.keys("base", PROMPT), new String[] {"a"}));
  }

  @Test
  void removingAnEngineBlockCutsTheRunThere() {
    apply("a", stored(new long[] {101, 102, 103}, null, PROMPT, "gpu"));
    apply("b", stored(new long[] {201, 202, 203}, null, PROMPT, "gpu"));
    apply("a", new KvEvent.BlockRemoved(new long[] {102}, "gpu"));
    assertArrayEquals(new double[] {1, 3}, index.match(keys, AB));
    assertEquals(3, index.size());
    apply("b", new KvEvent.BlockRemoved(new long[] {202}, "gpu"));
    assertEquals(2, index.size());
  }

  @Test
  void clearingDropsOnlyThatEndpoint() {
    apply("a", stored(new long[] {101, 102, 103}, null, PROMPT, "gpu"));
    apply("b", stored(new long[] {201}, null, tokens(0, 4), "gpu"));
    apply("a", new KvEvent.AllBlocksCleared());
    assertArrayEquals(new double[] {0, 1}, index.match(keys, AB));
    assertEquals(1, index.size());
    index.clear("b");
    assertEquals(0, index.size());
    apply("a", stored(new long[] {102}, 101L, tokens(4, 8), "gpu"));
    assertEquals(0, index.size(), "the engine map went with the clear");
  }

  @Test
  void tiersWeighTheMatchAndTheBestTierCounts() {
    apply("a", stored(new long[] {101, 102}, null, tokens(0, 8), "cpu"));
    apply("b", stored(new long[] {201, 202}, null, tokens(0, 8), "gpu"));
    apply("b", stored(new long[] {201, 202}, null, tokens(0, 8), "cpu"));
    double[] scores = index.match(keys, AB);
    assertEquals(1.6, scores[0], 1e-9);
    assertEquals(2.0, scores[1], 1e-9);
    apply("b", new KvEvent.BlockRemoved(new long[] {201}, "gpu"));
    scores = index.match(keys, AB);
    assertEquals(1.8, scores[1], 1e-9);
  }

  @Test
  void aTokenlessStoreAddsATierToBlocksTheEngineAlreadyMapped() {
    apply("a", stored(new long[] {101, 102}, null, tokens(0, 8), "gpu"));
    apply("a", stored(new long[] {101, 102}, null, new int[0], "cpu"));
    apply("a", new KvEvent.BlockRemoved(new long[] {101, 102}, "gpu"));
    assertEquals(1.6, index.match(keys, AB)[0], 1e-9);
  }

  @Test
  void speculativeBlocksWeighOneAndTheirRemovalKeepsWhatTheEngineReported() {
    index.addSpeculative("a", keys);
    apply("a", stored(new long[] {101}, null, tokens(0, 4), "cpu"));
    assertArrayEquals(new double[] {3, 0}, index.match(keys, AB));
    index.removeSpeculative("a", keys);
    assertEquals(0.8, index.match(keys, AB)[0], 1e-9);
    assertEquals(1, index.size());
  }

  @Test
  void unknownTiersWeighOne() {
    apply("a", stored(new long[] {101}, null, tokens(0, 4), "disk"));
    assertEquals(1.0, index.match(keys, AB)[0], 1e-9);
  }

  @Test
  void theNumberOfKeysStaysWithinSizeAndTheNewestSurvive() {
    KvBlockIndex small = new KvBlockIndex(blockKeys, 64, 10, Map.of());
    long[] last = null;
    for (int i = 0; i < 1000; i++) {
      int[] block = {i, i + 1, i + 2, i + 3};
      small.apply("a", MODEL, List.of(stored(new long[] {i}, null, block, "gpu")));
      last = blockKeys.keys(MODEL, block);
    }
    assertTrue(small.size() <= 64, "size " + small.size());
    assertArrayEquals(new double[] {1}, small.match(last, new String[] {"a"}));
  }

  @Test
  void aKeyKeepsAtMostPodCacheSizeEntriesTheNewest() {
    KvBlockIndex small = new KvBlockIndex(blockKeys, 1000, 2, Map.of());
    for (String endpoint : new String[] {"x", "y", "z"}) {
      small.apply(endpoint, MODEL, List.of(stored(new long[] {1}, null, tokens(0, 4), "gpu")));
    }
    assertArrayEquals(new double[] {0, 1, 1}, small.match(keys, new String[] {"x", "y", "z"}));
  }

  @Test
  void engineBlocksMapOntoRequestBlocksProportionally() {
    apply("a", stored(new long[] {101}, null, tokens(0, 8), "gpu"));
    apply("a", stored(new long[] {102}, 101L, tokens(8, 12), "gpu"));
    assertArrayEquals(new double[] {3, 0}, index.match(keys, AB), "a child chains from the last of its parent's keys");
    apply("a", new KvEvent.BlockRemoved(new long[] {101}, "gpu"));
    assertEquals(1, index.size(), "one engine block, two request blocks");

    apply("b", stored(new long[] {201, 202, 203, 204}, null, tokens(0, 8), "gpu"));
    apply("b", stored(new long[] {205}, 204L, tokens(8, 12), "gpu"));
    assertArrayEquals(new double[] {0, 3}, index.match(keys, AB));
    apply("b", new KvEvent.BlockRemoved(new long[] {203}, "gpu"));
    assertArrayEquals(new double[] {0, 1}, index.match(keys, AB), "two engine blocks share one request block");
  }

  @Test
  void endpointsThatLeaveAreForgottenAndTheirIdsDoNotCarryBlocksToNewcomers() {
    for (int i = 0; i < 10_000; i++) {
      String endpoint = "pod-" + i;
      apply(endpoint, stored(new long[] {101}, null, tokens(0, 4), "gpu"));
      index.addSpeculative(endpoint, keys);
      assertArrayEquals(new double[] {3}, index.match(keys, new String[] {endpoint}));
      index.clear(endpoint);
      assertArrayEquals(new double[] {0}, index.match(keys, new String[] {endpoint}));
    }
    assertEquals(0, index.endpointCount());
    assertEquals(0, index.size());
    apply("a", stored(new long[] {101}, null, tokens(0, 4), "gpu"));
    index.addSpeculative("b", new long[] {keys[1]});
    assertEquals(2, index.endpointCount());
    assertArrayEquals(new double[] {1, 0, 0}, index.match(keys, new String[] {"a", "b", "pod-1"}));
  }

  @Test
  void countersFollowAdmissionsEvictionsAndLookups() {
    KvBlockIndex small = new KvBlockIndex(blockKeys, 64, 10, Map.of());
    for (int i = 0; i < 100; i++) {
      int[] block = {i, i + 1, i + 2, i + 3};
      small.apply("a", MODEL, List.of(stored(new long[] {i}, null, block, "gpu")));
    }
    assertEquals(100, small.admissions());
    assertEquals(100 - small.size(), small.evictions());
    apply("a", stored(new long[] {101, 102}, null, tokens(0, 8), "gpu"));
    apply("b", stored(new long[] {201}, null, tokens(0, 4), "gpu"));
    index.match(keys, AB);
    index.match(blockKeys.keys("other", PROMPT), AB);
    assertEquals(2, index.lookups());
    assertEquals(2, index.lookupHits(), "the longest run, a's two blocks, then nothing");
  }

  @Test
  void concurrentWritersAndReadersLeaveConsistentCounts() throws Exception {
    KvBlockIndex index = new KvBlockIndex(blockKeys, 100_000, 10, Map.of());
    int writers = 4;
    int chains = 300;
    AtomicBoolean writing = new AtomicBoolean(true);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    String[] endpoints = {"w0", "w1", "w2", "w3"};
    List<Thread> threads = new ArrayList<>();
    for (int w = 0; w < writers; w++) {
      String endpoint = endpoints[w];
      threads.add(new Thread(() -> {
        for (int c = 0; c < chains; c++) {
          long engine = c * 10L;
          index.apply(endpoint, MODEL, List.of(stored(new long[] {engine, engine + 1, engine + 2}, null,
              chain(c), "gpu")));
          if (c % 2 == 1) {
            index.apply(endpoint, MODEL, List.of(new KvEvent.BlockRemoved(new long[] {engine + 1}, "gpu")));
          }
        }
      }));
    }
    for (int r = 0; r < 2; r++) {
      threads.add(new Thread(() -> {
        int c = 0;
        while (writing.get()) {
          for (double score : index.match(blockKeys.keys(MODEL, chain(c++ % chains)), endpoints)) {
            if (score < 0 || score > 3 || score != Math.rint(score)) {
              failure.set(new AssertionError("impossible score " + score));
            }
          }
        }
      }));
    }
    threads.forEach(Thread::start);
    for (int i = 0; i < writers; i++) {
      threads.get(i).join();
    }
    writing.set(false);
    for (Thread thread : threads) {
      thread.join();
    }
    if (failure.get() != null) {
      throw new AssertionError(failure.get());
    }
    for (int c = 0; c < chains; c++) {
      double expected = c % 2 == 1 ? 1 : 3;
      assertArrayEquals(new double[] {expected, expected, expected, expected},
          index.match(blockKeys.keys(MODEL, chain(c)), endpoints), "chain " + c);
    }
    assertEquals(chains / 2 * 3 + chains / 2 * 2, index.size());
  }

  private static int[] chain(int c) {
    int[] tokens = new int[12];
    for (int i = 0; i < tokens.length; i++) {
      tokens[i] = c * 100 + i;
    }
    return tokens;
  }
}
