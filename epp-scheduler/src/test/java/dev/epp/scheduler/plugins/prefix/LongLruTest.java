package dev.epp.scheduler.plugins.prefix;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LongLruTest {

  private static List<Long> keys(LongLru lru) {
    List<Long> keys = new ArrayList<>();
    lru.forEach(keys::add);
    return keys;
  }

  @Test
  void evictsTheLeastRecentlyUsedKey() {
    LongLru lru = new LongLru(3);
    lru.addNewest(1);
    lru.addNewest(2);
    lru.addNewest(3);
    assertTrue(lru.isFull());
    assertTrue(lru.touch(1));
    assertEquals(2, lru.removeEldest());
    lru.addNewest(4);
    assertEquals(List.of(3L, 1L, 4L), keys(lru));
    assertFalse(lru.contains(2));
    assertFalse(lru.touch(2));
    assertThrows(IllegalStateException.class, () -> lru.addNewest(5));
  }

  @Test
  void clearEmptiesAndAllowsReuse() {
    LongLru lru = new LongLru(2);
    lru.addNewest(7);
    lru.clear();
    assertEquals(0, lru.size());
    assertFalse(lru.contains(7));
    assertThrows(IllegalStateException.class, lru::removeEldest);
    lru.addNewest(7);
    assertEquals(List.of(7L), keys(lru));
  }

  /** Random operations on colliding keys agree with an access-ordered LinkedHashMap, through growth. */
  @Test
  void agreesWithLinkedHashMapUnderRandomOperations() {
    for (int capacity : new int[] {1, 2, 63, 64, 65, 500}) {
      Random random = new Random(capacity);
      LongLru lru = new LongLru(capacity);
      Map<Long, Boolean> reference = new LinkedHashMap<>(16, 0.75f, true);
      for (int op = 0; op < 20_000; op++) {
        // Keys that collide in the low bits of the table exercise probing and backward-shift deletion.
        long key = (random.nextInt(capacity * 3 + 3) * 1024L) ^ ((long) random.nextInt(4) << 32);
        boolean held = reference.get(key) != null;
        assertEquals(held, lru.touch(key));
        if (!held) {
          if (lru.isFull()) {
            long eldest = reference.keySet().iterator().next();
            reference.remove(eldest);
            assertEquals(eldest, lru.removeEldest());
          }
          lru.addNewest(key);
          reference.put(key, true);
        }
        assertEquals(reference.size(), lru.size());
      }
      assertEquals(new ArrayList<>(reference.keySet()), keys(lru));
      for (long key : reference.keySet()) {
        assertTrue(lru.contains(key));
      }
    }
  }
}
