package dev.epp.scheduler.plugins.prefix;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.BiConsumer;

/**
 * A concurrent map from a 64-bit block hash to the sorted ids of the servers holding it, without boxing: the prefix
 * index's hash-to-holders side.
 *
 * <p><b>Threading:</b> thread-safe. Reads ({@link #get}, {@link #advance}, {@link #forEach}) take no lock, never
 * block and never retry; they see each key's holders as of some moment during the call. Writes ({@link #add},
 * {@link #remove}) lock one of {@value #SEGMENTS} segments, chosen by the hash, so writers of different hashes rarely
 * wait for each other. Server ids must be non-negative.
 */
final class HolderTable {

  /*
   * Each segment publishes an open-addressing table (linear probing) through a volatile field. A slot is two
   * adjacent longs, the key and its holders, so a lookup usually touches one cache line:
   *
   *   0                      the slot is empty (ends a probe)
   *   NONE (MIN_VALUE)       the key was held and no server holds it now (a tombstone)
   *   OVERFLOW (MIN_VALUE+1) the holders are the immutable int[] overflow[slot]
   *   positive               up to three ids, ascending, as id + 1 in 21-bit fields from the low end (0 = unused)
   *
   * Within one table a slot's key is written once, before its holders (with release semantics), and never changes,
   * so a reader that sees a slot's holders (with acquire semantics) also sees its key, and never mistakes another
   * key's holders for its own. The overflow array is created when a slot first overflows (most tables never need it:
   * few hashes have more than three holders); it and overflow[slot] are written before the slot says OVERFLOW, and
   * overflow[slot] is never cleared while the table lives, so a reader that saw OVERFLOW finds an array of that key
   * (perhaps a newer one). Tombstones are
   * not reused; when keys and tombstones would fill three quarters of the slots, the writer copies the live keys into
   * a table of at least twice their number and publishes it. A reader still probing the old table sees its state at
   * that moment; writers hold the segment lock, so no write goes to a table that has been replaced.
   *
   * Memory: a segment's table has two to four slots per live key after a rebuild and four thirds of a slot (plus the
   * tombstones it is about to drop) before the next, i.e. about 21 to 64 bytes per held hash, 4 more per slot once
   * a slot overflowed; it never shrinks below 16 slots nor before the next insertion into its segment.
   */

  /** The number of independently locked segments. */
  static final int SEGMENTS = 64;

  private static final long EMPTY = 0;
  private static final long NONE = Long.MIN_VALUE;
  private static final long OVERFLOW = Long.MIN_VALUE + 1;
  private static final int FIELD_BITS = 21;
  private static final long FIELD_MASK = (1L << FIELD_BITS) - 1;
  private static final int INLINE = 3;
  private static final int MAX_INLINE_ID = (int) FIELD_MASK - 1;
  private static final int MIN_SLOTS = 16;
  private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);
  private static final VarHandle ARRAYS = MethodHandles.arrayElementVarHandle(int[][].class);

  private final Segment[] segments = new Segment[SEGMENTS];
  private final long seed;

  /**
   * An empty table whose slots are chosen by a random seed, so that no one can choose prompt blocks whose hashes
   * (unseeded, as the Go EPP computes them) crowd into one probe sequence.
   */
  HolderTable() {
    this(ThreadLocalRandom.current().nextLong());
  }

  /** An empty table that places keys by {@code seed}; a fixed seed lets a test construct colliding keys. */
  HolderTable(long seed) {
    this.seed = seed;
    for (int i = 0; i < SEGMENTS; i++) {
      segments[i] = new Segment();
    }
  }

  /** The holders of {@code key}, ascending, or {@code null} if none. The caller must not modify the array. */
  int[] get(long key) {
    long mixed = mix(key ^ seed);
    Table table = segments[segment(mixed)].table;
    int slot = table.find(key, mixed);
    if (slot < 0) {
      return null;
    }
    long holders = (long) LONGS.getAcquire(table.slots, 2 * slot + 1);
    if (holders == NONE) {
      return null;
    }
    return decode(table, slot, holders);
  }

  /**
   * For each {@code j} with {@code blocks[j] == i} and {@code ids[j]} among the holders of {@code key}: increments
   * {@code blocks[j]}. Allocates nothing.
   *
   * @param ids ascending server ids
   * @return how many were incremented
   */
  int advance(long key, int[] ids, int[] blocks, int i) {
    long mixed = mix(key ^ seed);
    Table table = segments[segment(mixed)].table;
    int slot = table.find(key, mixed);
    if (slot < 0) {
      return 0;
    }
    long holders = (long) LONGS.getAcquire(table.slots, 2 * slot + 1);
    if (holders == NONE) {
      return 0;
    }
    if (holders == OVERFLOW) {
      return advance(ids, blocks, i, table.overflow(slot));
    }
    int advanced = 0;
    for (int j = 0, f = 0; j < ids.length && f < INLINE; ) {
      int next = field(holders, f) - 1;
      if (next < 0) {
        break;
      }
      if (blocks[j] != i || ids[j] < next) {
        j++;
      } else if (ids[j] > next) {
        f++;
      } else {
        blocks[j]++;
        advanced++;
        j++;
        f++;
      }
    }
    return advanced;
  }

  private static int advance(int[] ids, int[] blocks, int i, int[] next) {
    int advanced = 0;
    for (int j = 0, k = 0; j < ids.length && k < next.length; ) {
      if (blocks[j] != i || ids[j] < next[k]) {
        j++;
      } else if (ids[j] > next[k]) {
        k++;
      } else {
        blocks[j]++;
        advanced++;
        j++;
        k++;
      }
    }
    return advanced;
  }

  /** Lists server {@code id} as a holder of {@code key}; no change if it is listed. */
  void add(long key, int id) {
    if (id < 0) {
      throw new IllegalArgumentException("negative id " + id);
    }
    long mixed = mix(key ^ seed);
    Segment segment = segments[segment(mixed)];
    synchronized (segment) {
      Table table = segment.table;
      int slot = table.find(key, mixed);
      if (slot < 0) {
        if ((segment.used + 1) * 4L > table.capacity() * 3L) {
          table = segment.rebuild(segment.live + 1);
        }
        slot = table.claim(key, mixed);
        segment.used++;
      }
      long holders = table.slots[2 * slot + 1];
      if (holders == EMPTY || holders == NONE) {
        segment.live++;
        if (id <= MAX_INLINE_ID) {
          LONGS.setRelease(table.slots, 2 * slot + 1, (long) id + 1);
        } else {
          table.set(slot, new int[] {id});
        }
        return;
      }
      int[] ids = decode(table, slot, holders);
      int at = Arrays.binarySearch(ids, id);
      if (at >= 0) {
        return;
      }
      at = -at - 1;
      int[] with = new int[ids.length + 1];
      System.arraycopy(ids, 0, with, 0, at);
      with[at] = id;
      System.arraycopy(ids, at, with, at + 1, ids.length - at);
      table.set(slot, with);
    }
  }

  /** Unlists server {@code id} as a holder of {@code key}; no change if it is not listed. */
  void remove(long key, int id) {
    long mixed = mix(key ^ seed);
    Segment segment = segments[segment(mixed)];
    synchronized (segment) {
      Table table = segment.table;
      int slot = table.find(key, mixed);
      if (slot < 0) {
        return;
      }
      long holders = table.slots[2 * slot + 1];
      if (holders == NONE) {
        return;
      }
      int[] ids = decode(table, slot, holders);
      int at = Arrays.binarySearch(ids, id);
      if (at < 0) {
        return;
      }
      if (ids.length == 1) {
        segment.live--;
        LONGS.setRelease(table.slots, 2 * slot + 1, NONE);
        return;
      }
      int[] without = new int[ids.length - 1];
      System.arraycopy(ids, 0, without, 0, at);
      System.arraycopy(ids, at + 1, without, at, ids.length - at - 1);
      table.set(slot, without);
    }
  }

  /** Calls {@code action} with every key that has holders and its holders (ascending); no lock. */
  void forEach(BiConsumer<Long, int[]> action) {
    for (Segment segment : segments) {
      Table table = segment.table;
      for (int slot = 0; slot < table.capacity(); slot++) {
        long holders = (long) LONGS.getAcquire(table.slots, 2 * slot + 1);
        if (holders != EMPTY && holders != NONE) {
          action.accept(table.slots[2 * slot], decode(table, slot, holders));
        }
      }
    }
  }

  /** The number of keys with holders; locks each segment in turn. */
  int keys() {
    int keys = 0;
    for (Segment segment : segments) {
      synchronized (segment) {
        keys += segment.live;
      }
    }
    return keys;
  }

  /** The number of slots over all segments' tables, for memory checks; no lock. */
  long slots() {
    long slots = 0;
    for (Segment segment : segments) {
      slots += segment.table.capacity();
    }
    return slots;
  }

  /** The holders of a slot whose value is not empty or {@link #NONE}, as a fresh or the overflow array. */
  private static int[] decode(Table table, int slot, long holders) {
    if (holders == OVERFLOW) {
      return table.overflow(slot);
    }
    int[] ids = new int[count(holders)];
    for (int f = 0; f < ids.length; f++) {
      ids[f] = field(holders, f) - 1;
    }
    return ids;
  }

  private static int count(long holders) {
    int n = 0;
    while (n < INLINE && field(holders, n) != 0) {
      n++;
    }
    return n;
  }

  private static int field(long holders, int f) {
    return (int) ((holders >>> (f * FIELD_BITS)) & FIELD_MASK);
  }

  /** Spreads a key; its top bits choose the segment and the next ones the home slot. */
  private static long mix(long key) {
    long h = key * 0x9E3779B97F4A7C15L;
    return h ^ (h >>> 29);
  }

  private static int segment(long mixed) {
    return (int) (mixed >>> 58);
  }

  /** One segment's published table and, guarded by the segment's monitor, its counts. */
  private final class Segment {
    volatile Table table = new Table(MIN_SLOTS);
    int used; // slots holding a key, tombstones included
    int live; // keys with holders

    /** Publishes a table with the live keys and room for {@code keys}; called with the monitor held. */
    Table rebuild(int keys) {
      Table old = table;
      int capacity = MIN_SLOTS;
      while (capacity < keys * 2L) {
        capacity <<= 1;
      }
      Table fresh = new Table(capacity);
      for (int slot = 0; slot < old.capacity(); slot++) {
        long holders = old.slots[2 * slot + 1];
        if (holders != EMPTY && holders != NONE) {
          long key = old.slots[2 * slot];
          int to = fresh.claim(key, mix(key ^ seed));
          fresh.slots[2 * to + 1] = holders;
          if (holders == OVERFLOW) {
            fresh.overflows()[to] = old.overflow(slot);
          }
        }
      }
      used = live;
      table = fresh;
      return fresh;
    }
  }

  /** An open-addressing table of two longs per slot, plus the overflow arrays once a slot overflowed. */
  private static final class Table {
    final long[] slots;
    final int mask;
    private int[][] overflow; // written before the first slot that says OVERFLOW (release), read after it (acquire)

    Table(int capacity) {
      this.slots = new long[2 * capacity];
      this.mask = capacity - 1;
    }

    /** The holders of a slot that says OVERFLOW. */
    int[] overflow(int slot) {
      return (int[]) ARRAYS.getAcquire(overflow, slot);
    }

    /** The overflow arrays, created if none; called with the segment's monitor held. */
    int[][] overflows() {
      if (overflow == null) {
        overflow = new int[capacity()][];
      }
      return overflow;
    }

    int capacity() {
      return mask + 1;
    }

    /** The slot holding {@code key}, or -1. */
    int find(long key, long mixed) {
      for (int slot = home(mixed); ; slot = (slot + 1) & mask) {
        long holders = (long) LONGS.getAcquire(slots, 2 * slot + 1);
        if (holders == EMPTY) {
          return -1;
        }
        if (slots[2 * slot] == key) {
          return slot;
        }
      }
    }

    /** Writes {@code key} into the first empty slot of its probe and returns the slot, its holders still empty. */
    int claim(long key, long mixed) {
      int slot = home(mixed);
      while (slots[2 * slot + 1] != EMPTY) {
        slot = (slot + 1) & mask;
      }
      slots[2 * slot] = key;
      return slot;
    }

    /** Publishes {@code ids} (ascending, not empty) as the holders of {@code slot}. */
    void set(int slot, int[] ids) {
      long inline = 0;
      if (ids.length <= INLINE && ids[ids.length - 1] <= MAX_INLINE_ID) {
        for (int f = 0; f < ids.length; f++) {
          inline |= ((long) ids[f] + 1) << (f * FIELD_BITS);
        }
        LONGS.setRelease(slots, 2 * slot + 1, inline);
      } else {
        ARRAYS.setRelease(overflows(), slot, ids);
        LONGS.setRelease(slots, 2 * slot + 1, OVERFLOW);
      }
    }

    private int home(long mixed) {
      return (int) (mixed >>> 32) & mask;
    }
  }
}
