package dev.epp.kvcache.index;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class BlockTableTest {

  private static final int CAPACITY = 200;
  private static final int LIMIT = 3;

  /** The table against a list-and-map model, over random adds, removals and endpoint purges through growth. */
  @Test
  void matchesAModelOfKeysInLeastRecentlyUsedOrderWithTheirNewestEntries() {
    Random random = new Random(42);
    long[] pool = new long[600];
    for (int i = 0; i < pool.length; i++) {
      // Keys sharing their high bits collide in the table; the others spread.
      pool[i] = i % 2 == 0 ? random.nextLong() : (long) i;
    }
    BlockTable table = new BlockTable(CAPACITY);
    List<Long> order = new ArrayList<>();
    Map<Long, List<Integer>> entries = new HashMap<>();
    int evictions = 0;
    int modelEvictions = 0;
    for (int step = 0; step < 200_000; step++) {
      long key = pool[random.nextInt(pool.length)];
      int entry = random.nextInt(4) << 8 | random.nextInt(2);
      int op = random.nextInt(100);
      if (op < 70) {
        evictions += table.add(key, entry, LIMIT) ? 1 : 0;
        List<Integer> held = entries.get(key);
        if (held != null) {
          order.remove(key);
          held.remove((Integer) entry);
          if (held.size() == LIMIT) {
            held.remove(0);
          }
        } else {
          if (order.size() == CAPACITY) {
            entries.remove(order.remove(0));
            modelEvictions++;
          }
          held = new ArrayList<>();
          entries.put(key, held);
        }
        held.add(entry);
        order.add(key);
      } else if (op < 95) {
        table.remove(key, entry);
        List<Integer> held = entries.get(key);
        if (held != null && held.remove((Integer) entry) && held.isEmpty()) {
          entries.remove(key);
          order.remove(key);
        }
      } else if (op < 99) {
        int node = table.get(key);
        if (node != BlockTable.NIL) {
          order.remove(key);
          order.add(key);
        }
      } else {
        int endpoint = entry >>> 8;
        table.removeEndpoint(endpoint);
        for (long held : new ArrayList<>(order)) {
          entries.get(held).removeIf(e -> e >>> 8 == endpoint);
          if (entries.get(held).isEmpty()) {
            entries.remove(held);
            order.remove(held);
          }
        }
      }
      if (step % 1_000 == 0 || step == 199_999) {
        assertEquals(describe(order, entries), describe(table), "step " + step);
      }
    }
    assertEquals(modelEvictions, evictions);
  }

  private static String describe(List<Long> order, Map<Long, List<Integer>> entries) {
    StringBuilder out = new StringBuilder();
    for (long key : order) {
      out.append(key).append(entries.get(key)).append('\n');
    }
    return out.toString();
  }

  private static String describe(BlockTable table) {
    StringBuilder out = new StringBuilder();
    for (int node = table.eldest(); node != BlockTable.NIL; node = table.newer(node)) {
      List<Integer> held = new ArrayList<>();
      for (int i = 0; i < table.count(node); i++) {
        held.add(table.entryAt(node, i));
      }
      assertEquals(node, table.find(table.keyAt(node)), "the table finds every listed key");
      out.append(table.keyAt(node)).append(held).append('\n');
    }
    assertEquals(table.size(), out.toString().lines().count());
    return out.toString();
  }
}
