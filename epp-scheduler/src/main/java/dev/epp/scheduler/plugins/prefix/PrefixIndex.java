package dev.epp.scheduler.plugins.prefix;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BiConsumer;

/**
 * Which servers probably hold which prompt blocks in their KV cache: per server, the most recently routed block
 * hashes up to a capacity; per hash, the servers holding it.
 *
 * <p><b>Threading:</b> thread-safe. {@link #match} takes no lock; {@link #add} locks the server it adds to and, for
 * each hash it lists or unlists, briefly one segment of the hash table;
 * {@link #remove} and the creation of a server's entry take a lock of their own, off the request path.
 */
final class PrefixIndex {

  /*
   * Two structures, kept consistent per server:
   *
   *   holders: hash -> sorted server ids, a HolderTable (primitive long keys, lock-free reads, locked segments)
   *   servers: name -> Server{id, LongLru of hashes, capacity}
   *
   * Invariant, whenever no writer holds a server's monitor: the server's id is in holders[h] iff h is in its LRU.
   * Every change of a server's LRU and of its id in holders happens under that server's monitor, so writers to
   * different servers never wait for each other but for the short per-segment lock of a holders update. The Go
   * indexer (v1.5) guards both maps with one RWMutex, which serialises all requests behind every index update
   * (GIE #1523, #2501); it also updates the LRU for all hashes before the hash->pods map, so a hash evicted
   * within the same Add stays listed for the pod. Here each hash is inserted and each eviction unlisted in turn.
   *
   * Matching reads holders only: one table lookup per block (usually one cache line: up to three holders are stored
   * inline next to the hash) and a merge of two short sorted lists. A server
   * matches block i only if it matched blocks 0..i-1 (the Go v1.5 matcher counts a server for every block it
   * holds as long as some server held each earlier block, so a server holding blocks 2..n but not 1 scored
   * (n-1)/n although its cache cannot serve a single one of them: with chained hashes a block is only usable
   * after its predecessors). The walk stops at the first block no remaining server holds.
   *
   * Memory is bounded by the capacities: each server holds at most its capacity of hashes, and holders has at
   * most their sum of keys. A removed server's entry is dropped with all of its ids in holders. Its id is reused
   * (oldest freed first) only after that, so ids stay small and dense. A request scheduled to a server just
   * before its removal would recreate its entry in add(); the names of recently removed servers are therefore
   * remembered (a bounded set, cleared when the server is added again) and add() ignores them. A match racing
   * with a removal and a reuse of the same id can credit one request's match to the new server; this needs a
   * removal, an id reuse and the new server's first routing within one match and only skews that one score.
   */

  /** How many removed server names are remembered to refuse late additions. */
  static final int REMEMBERED_REMOVALS = 1024;

  private final HolderTable holders = new HolderTable();
  private final ConcurrentHashMap<String, Server> servers = new ConcurrentHashMap<>();
  private final LongAdder size = new LongAdder();

  private final Object lifecycle = new Object();
  private final ArrayDeque<Integer> freeIds = new ArrayDeque<>(); // guarded by lifecycle
  private final Set<String> removed = new LinkedHashSet<>(); // guarded by lifecycle
  private int nextId; // guarded by lifecycle

  /** The total number of hashes held over all servers. */
  long size() {
    return size.sum();
  }

  /**
   * Records that server {@code name} now holds every hash in {@code hashes}, evicting its least recently used
   * hashes beyond its capacity. Ignored for a server removed since it was last {@linkplain #added added}.
   *
   * @param capacity the server's capacity if this creates its entry; an existing entry keeps its capacity
   */
  void add(String name, int capacity, long[] hashes) {
    Server server = servers.get(name);
    if (server == null) {
      server = create(name, capacity);
      if (server == null) {
        return;
      }
    }
    synchronized (server) {
      if (server.removed) {
        return;
      }
      LongLru lru = server.lru;
      int added = 0;
      for (long hash : hashes) {
        if (lru.touch(hash)) {
          continue;
        }
        if (lru.isFull()) {
          holders.remove(lru.removeEldest(), server.id);
        } else {
          added++;
        }
        lru.addNewest(hash);
        holders.add(hash, server.id);
      }
      size.add(added);
    }
  }

  /**
   * For each of the first servers holding {@code hashes[0]}: how many leading blocks it holds in a row.
   *
   * @return the servers holding the first block (never {@code null}) and their match lengths
   */
  Matches match(long[] hashes) {
    if (hashes.length == 0) {
      return Matches.NONE;
    }
    int[] ids = holders.get(hashes[0]);
    if (ids == null) {
      return Matches.NONE;
    }
    int[] blocks = new int[ids.length];
    Arrays.fill(blocks, 1);
    for (int i = 1; i < hashes.length; i++) {
      if (holders.advance(hashes[i], ids, blocks, i) == 0) {
        break;
      }
    }
    return new Matches(ids, blocks);
  }

  /** The id of server {@code name}, or -1 if it holds nothing. */
  int id(String name) {
    Server server = servers.get(name);
    return server == null ? -1 : server.id;
  }

  /** The capacity of server {@code name}, or 0 if it holds nothing. */
  int capacity(String name) {
    Server server = servers.get(name);
    return server == null ? 0 : server.lru.capacity();
  }

  /** Drops server {@code name} and everything it holds, and ignores later additions until {@link #added}. */
  void remove(String name) {
    Server server;
    synchronized (lifecycle) {
      server = servers.remove(name);
      if (removed.add(name) && removed.size() > REMEMBERED_REMOVALS) {
        removed.remove(removed.iterator().next());
      }
    }
    if (server == null) {
      return;
    }
    synchronized (server) {
      server.removed = true;
      server.lru.forEach(hash -> holders.remove(hash, server.id));
      size.add(-server.lru.size());
      server.lru.clear();
    }
    synchronized (lifecycle) {
      freeIds.addLast(server.id);
    }
  }

  /** Accepts additions for server {@code name} again after a {@link #remove}. */
  void added(String name) {
    synchronized (lifecycle) {
      removed.remove(name);
    }
  }

  /** Calls {@code check} with every hash and its holders, for consistency checks in tests. */
  void forEachHolder(BiConsumer<Long, int[]> check) {
    holders.forEach(check);
  }

  /** Whether server {@code name} holds {@code hash}; locks the server. For tests. */
  boolean holds(String name, long hash) {
    Server server = servers.get(name);
    if (server == null) {
      return false;
    }
    synchronized (server) {
      return server.lru.contains(hash);
    }
  }

  /** The number of hashes server {@code name} holds; locks the server. */
  int size(String name) {
    Server server = servers.get(name);
    if (server == null) {
      return 0;
    }
    synchronized (server) {
      return server.lru.size();
    }
  }

  /** The names of the servers holding anything. */
  Set<String> servers() {
    return Set.copyOf(servers.keySet());
  }

  /** The name of the server with id {@code id}, or {@code null}. For consistency checks; linear. */
  String name(int id) {
    for (Server server : servers.values()) {
      if (server.id == id) {
        return server.name;
      }
    }
    return null;
  }

  private Server create(String name, int capacity) {
    synchronized (lifecycle) {
      if (removed.contains(name)) {
        return null;
      }
      Server server = servers.get(name);
      if (server == null) {
        Integer free = freeIds.pollFirst();
        server = new Server(name, free != null ? free : nextId++, capacity);
        servers.put(name, server);
      }
      return server;
    }
  }

  /** The servers holding a first block and how many leading blocks each holds. */
  static final class Matches {
    static final Matches NONE = new Matches(new int[0], new int[0]);

    private final int[] ids;
    private final int[] blocks;

    private Matches(int[] ids, int[] blocks) {
      this.ids = ids;
      this.blocks = blocks;
    }

    /** The leading blocks server {@code id} holds in a row; 0 for -1 or a server holding no first block. */
    int blocks(int id) {
      int j = id < 0 ? -1 : Arrays.binarySearch(ids, id);
      return j < 0 ? 0 : blocks[j];
    }

    /** Whether no server holds the first block. */
    boolean isEmpty() {
      return ids.length == 0;
    }
  }

  /** One server's entry; its LRU and its ids in holders are guarded by its monitor. */
  private static final class Server {
    final String name;
    final int id;
    final LongLru lru;
    boolean removed; // guarded by this

    Server(String name, int id, int capacity) {
      this.name = name;
      this.id = id;
      this.lru = new LongLru(capacity);
    }
  }
}
