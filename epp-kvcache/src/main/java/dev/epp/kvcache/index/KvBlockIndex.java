package dev.epp.kvcache.index;

import dev.epp.kvcache.events.KvEvent;
import dev.epp.kvcache.events.KvEventSink;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which endpoints hold which blocks, and on which device tier, learned from their KV-cache events as llm-d's
 * in-memory index does.
 *
 * <p>A {@link KvEvent.BlockStored} names the engine's block hashes and the blocks' token ids: the index derives its own
 * {@link BlockKeys} from the tokens (chained from the parent's key, found through the endpoint's engine-to-request key
 * map, or from the model's root key when there is no parent; the model is the event's LoRA adapter if any) and records
 * the endpoint and tier under each key. A store whose parent is unknown, or whose blocks carry extra keys, is skipped
 * and counted, as llm-d skips it. A store without full blocks of tokens only adds the tier to the blocks its engine
 * hashes already map to. {@link KvEvent.BlockRemoved} removes the endpoint's tier from the keys its engine hashes map
 * to; {@link KvEvent.AllBlocksCleared} and {@link #clear} drop everything of the endpoint.
 *
 * <p>Bounds: at most {@code size} keys (least recently used first out, per lock stripe), at most {@code podCacheSize}
 * (endpoint, tier) entries per key (least recently stored first out), and per endpoint at most {@code size} engine
 * hashes.
 *
 * <p>Storage is primitive: each of 64 stripes keeps its keys in a {@code BlockTable} (open addressing over parallel
 * arrays with an intrusive LRU list, entries packed as {@code endpointId << 8 | tierId}), each endpoint its engine
 * hashes in an {@code EngineTable}; lookups box nothing and {@link #match} allocates only its result and a few words.
 * Endpoint ids are freed by {@link #clear}, so endpoints joining and leaving do not grow the index.
 *
 * <p><b>Threading:</b> thread-safe. Each stripe is guarded by its own monitor held only for one key's lookup or
 * update, so a reader waits at most for one key's update. Each endpoint's engine table and writes of its entries are
 * guarded by the endpoint's monitor (taken before a stripe's). A {@link #match} running while an endpoint is cleared
 * and its id handed to a newcomer may score that one request with the newcomer's blocks.
 */
public final class KvBlockIndex implements KvEventSink {

  /**
   * The default most keys: 1,000,000 rather than llm-d's 1e8. A block costs about 95 bytes here, its key (about 35)
   * and its endpoint's engine hash (about 60, growth slack included; see {@code KvBlockIndexHeap} in epp-bench), so
   * one million (~95 MB) covers 16 M tokens of distinct prefixes at 16 tokens per block; 1e8 would take ~10 GB.
   */
  public static final int DEFAULT_SIZE = 1_000_000;

  /** The tier of blocks recorded by {@link #addSpeculative}. */
  public static final String SPECULATIVE_TIER = "speculative";

  /** The default most (endpoint, tier) entries per key, as llm-d. */
  public static final int DEFAULT_POD_CACHE_SIZE = 10;

  private static final Logger log = LoggerFactory.getLogger(KvBlockIndex.class);
  private static final int STRIPES = 64;
  private static final int MAX_TIERS = 255;
  /** Endpoint ids stay below 2^23 so that packed entries are never negative. */
  private static final int MAX_ENDPOINTS = 1 << 23;
  private static final int[] EMPTY = {};

  private final BlockKeys blockKeys;
  private final int size;
  private final int podCacheSize;
  private final BlockTable[] stripes = new BlockTable[STRIPES];
  private final Map<String, EndpointState> endpoints = new ConcurrentHashMap<>();
  private final EndpointIds endpointIds = new EndpointIds();
  private final Map<String, Integer> tierIds = new ConcurrentHashMap<>();
  private volatile double[] tierWeights = new double[0];
  private final LongAdder skippedStores = new LongAdder();
  private final LongAdder admissions = new LongAdder();
  private final LongAdder evictions = new LongAdder();
  private final LongAdder lookups = new LongAdder();
  private final LongAdder lookupHits = new LongAdder();

  /**
   * @param blockKeys how keys are derived from tokens
   * @param size the most keys, above 0
   * @param podCacheSize the most (endpoint, tier) entries per key, above 0
   * @param weights device tier weights for {@link #match} (e.g. gpu 1.0, cpu 0.8); tiers not named weigh 1.0
   */
  public KvBlockIndex(BlockKeys blockKeys, int size, int podCacheSize, Map<String, Double> weights) {
    if (size <= 0 || podCacheSize <= 0) {
      throw new IllegalArgumentException("size and podCacheSize must be above 0");
    }
    this.blockKeys = blockKeys;
    this.size = size;
    this.podCacheSize = podCacheSize;
    int perStripe = Math.max(1, (size + STRIPES - 1) / STRIPES);
    for (int i = 0; i < STRIPES; i++) {
      stripes[i] = new BlockTable(perStripe);
    }
    weights.forEach((tier, weight) -> {
      int id = tierId(tier);
      synchronized (tierIds) {
        double[] next = tierWeights.clone();
        next[id] = weight;
        tierWeights = next;
      }
    });
  }

  /** The default tier weights, as llm-d's scorer: gpu 1.0, cpu 0.8. */
  public static Map<String, Double> defaultWeights() {
    return Map.of("gpu", 1.0, "cpu", 0.8);
  }

  /** How keys are derived from tokens. */
  public BlockKeys blockKeys() {
    return blockKeys;
  }

  /** The number of keys held. */
  public long size() {
    long total = 0;
    for (BlockTable stripe : stripes) {
      synchronized (stripe) {
        total += stripe.size();
      }
    }
    return total;
  }

  /** The number of endpoints holding blocks or engine hashes; an endpoint cleared is forgotten. */
  public int endpointCount() {
    return endpoints.size();
  }

  /** The number of stores skipped: unknown parent or extra keys. */
  public long skippedStores() {
    return skippedStores.sum();
  }

  /** The number of (key, endpoint, tier) entries stored since the start (llm-d's admissions). */
  public long admissions() {
    return admissions.sum();
  }

  /** The number of keys evicted as least recently used since the start. */
  public long evictions() {
    return evictions.sum();
  }

  /** The number of {@link #match} calls since the start. */
  public long lookups() {
    return lookups.sum();
  }

  /**
   * The sum, over every {@link #match} since the start, of the longest run of leading blocks one candidate holds
   * (llm-d's lookup hits).
   */
  public long lookupHits() {
    return lookupHits.sum();
  }

  @Override
  public void apply(String endpoint, String model, List<KvEvent> events) {
    for (KvEvent event : events) {
      if (event instanceof KvEvent.BlockStored stored) {
        store(endpoint, model, stored);
      } else if (event instanceof KvEvent.BlockRemoved removed) {
        remove(endpoint, removed);
      } else {
        clear(endpoint);
      }
    }
  }

  /**
   * Records {@code endpoint} as holding {@code keys} on the {@value #SPECULATIVE_TIER} tier (weight 1.0), before its
   * engine reports them; {@link #removeSpeculative} takes them back.
   */
  public void addSpeculative(String endpoint, long[] keys) {
    int tier = tierId(SPECULATIVE_TIER);
    while (true) {
      EndpointState state = endpoints.computeIfAbsent(endpoint, e -> new EndpointState(endpointIds.acquire(), size));
      synchronized (state) {
        if (!state.cleared) {
          add(keys, entry(state.id, tier));
          return;
        }
      }
    }
  }

  /** Removes what {@link #addSpeculative} recorded; blocks the engine reported meanwhile stay. */
  public void removeSpeculative(String endpoint, long[] keys) {
    EndpointState state = endpoints.get(endpoint);
    if (state == null) {
      return;
    }
    int entry = entry(state.id, tierId(SPECULATIVE_TIER));
    synchronized (state) {
      if (state.cleared) {
        return;
      }
      for (long key : keys) {
        BlockTable stripe = stripe(key);
        synchronized (stripe) {
          stripe.remove(key, entry);
        }
      }
    }
  }

  /** Drops every block and engine hash of {@code endpoint} and frees its id for another endpoint. */
  @Override
  public void clear(String endpoint) {
    EndpointState state = endpoints.get(endpoint);
    if (state == null) {
      return;
    }
    synchronized (state) {
      if (state.cleared) {
        return;
      }
      for (BlockTable stripe : stripes) {
        synchronized (stripe) {
          stripe.removeEndpoint(state.id);
        }
      }
      state.cleared = true;
      endpoints.remove(endpoint, state);
      endpointIds.release(state.id);
    }
  }

  /**
   * For each candidate, llm-d's longest-prefix score of {@code keys}: over the leading blocks the candidate holds
   * in a row, the sum of the highest weight of the tiers it holds each on. Allocates only the result and a few
   * words: at most {@code podCacheSize} endpoints hold the first key, so only they are followed.
   *
   * @param keys the request's block keys, in order
   * @param endpoints the candidates' names
   * @return the scores, indexed like {@code endpoints}
   */
  public double[] match(long[] keys, String[] endpoints) {
    lookups.increment();
    double[] scores = new double[endpoints.length];
    if (keys.length == 0 || endpoints.length == 0) {
      return scores;
    }
    int[] firstHolders = firstHolders(keys[0]);
    if (firstHolders.length == 0) {
      return scores;
    }
    // The candidates holding the first key: (candidate index << 32 | endpoint id).
    long[] active = new long[Math.min(endpoints.length, firstHolders.length)];
    int activeCount = 0;
    for (int j = 0; j < endpoints.length; j++) {
      EndpointState state = this.endpoints.get(endpoints[j]);
      if (state != null && contains(firstHolders, state.id)) {
        if (activeCount == active.length) {
          active = Arrays.copyOf(active, Math.min(endpoints.length, active.length * 2));
        }
        active[activeCount++] = (long) j << 32 | state.id;
      }
    }
    double[] weights = tierWeights;
    int run = 0;
    for (int i = 0; i < keys.length && activeCount > 0; i++) {
      BlockTable stripe = stripe(keys[i]);
      synchronized (stripe) {
        int node = stripe.get(keys[i]);
        int kept = 0;
        for (int a = 0; a < activeCount && node != BlockTable.NIL; a++) {
          double weight = stripe.bestWeight(node, (int) active[a], weights);
          if (weight > 0) {
            scores[(int) (active[a] >>> 32)] += weight;
            active[kept++] = active[a];
          }
        }
        activeCount = kept;
      }
      if (activeCount > 0) {
        run++;
      }
    }
    lookupHits.add(run);
    return scores;
  }

  /** The endpoint ids holding {@code key}, without making it the newest. */
  private int[] firstHolders(long key) {
    BlockTable stripe = stripe(key);
    synchronized (stripe) {
      int node = stripe.find(key);
      if (node == BlockTable.NIL) {
        return EMPTY;
      }
      int[] ids = new int[stripe.count(node)];
      for (int i = 0; i < ids.length; i++) {
        ids[i] = stripe.entryAt(node, i) >>> 8;
      }
      return ids;
    }
  }

  private static boolean contains(int[] values, int value) {
    for (int v : values) {
      if (v == value) {
        return true;
      }
    }
    return false;
  }

  private void store(String endpoint, String model, KvEvent.BlockStored event) {
    if (hasExtraKeys(event)) {
      skippedStores.increment();
      log.debug("Skipping a store of {} blocks on {}: blocks with extra keys are not indexed",
          event.engineBlockHashes().length, endpoint);
      return;
    }
    int tier = tierId(event.medium());
    while (true) {
      EndpointState state = endpoints.computeIfAbsent(endpoint, e -> new EndpointState(endpointIds.acquire(), size));
      synchronized (state) {
        if (!state.cleared) {
          store(state, endpoint, model, tier, event);
          return;
        }
      }
    }
  }

  private void store(EndpointState state, String endpoint, String model, int tier, KvEvent.BlockStored event) {
    EngineTable engine = state.engine;
    long parent;
    if (event.hasParent()) {
      int parentNode = engine.find(event.parentEngineBlockHash());
      if (parentNode == EngineTable.NIL) {
        skippedStores.increment();
        log.debug("Skipping a store of {} blocks on {}: parent block {} is unknown",
            event.engineBlockHashes().length, endpoint, event.parentEngineBlockHash());
        return;
      }
      parent = engine.lastKey(parentNode);
    } else {
      String effectiveModel = event.loraName() != null && !event.loraName().isEmpty() ? event.loraName() : model;
      parent = blockKeys.rootKey(effectiveModel);
    }
    int[] tokens = event.tokenIds();
    long[] requestKeys = blockKeys.keys(parent, tokens, 0, tokens.length);
    long[] engineHashes = event.engineBlockHashes();
    if (requestKeys.length == 0) {
      requestKeys = resolve(engine, engineHashes);
    } else {
      mapEngineKeys(engine, engineHashes, requestKeys);
    }
    add(requestKeys, entry(state.id, tier));
  }

  private void add(long[] keys, int entry) {
    for (long key : keys) {
      BlockTable stripe = stripe(key);
      boolean evicted;
      synchronized (stripe) {
        evicted = stripe.add(key, entry, podCacheSize);
      }
      admissions.increment();
      if (evicted) {
        evictions.increment();
      }
    }
  }

  /** The last request key of each engine hash known, for a tier-only store. */
  private static long[] resolve(EngineTable engine, long[] engineHashes) {
    long[] resolved = new long[engineHashes.length];
    int count = 0;
    for (long hash : engineHashes) {
      int node = engine.find(hash);
      if (node != EngineTable.NIL) {
        resolved[count++] = engine.lastKey(node);
      }
    }
    return Arrays.copyOf(resolved, count);
  }

  /**
   * Maps engine blocks onto request blocks proportionally, as llm-d (the block sizes may differ): over
   * {@code n = max(engine, request)} steps, step {@code i} maps engine block {@code i * engine / n} to request block
   * {@code i * request / n}, so each engine block gets a run of consecutive request blocks.
   */
  private static void mapEngineKeys(EngineTable engine, long[] engineHashes, long[] requestKeys) {
    if (engineHashes.length == 0) {
      return;
    }
    int n = Math.max(engineHashes.length, requestKeys.length);
    int current = 0;
    int runStart = 0;
    for (int i = 1; i <= n; i++) {
      int e = i == n ? -1 : (int) ((long) i * engineHashes.length / n);
      if (e != current) {
        int from = (int) ((long) runStart * requestKeys.length / n);
        int to = (int) ((long) (i - 1) * requestKeys.length / n) + 1;
        engine.put(engineHashes[current], requestKeys, from, to);
        current = e;
        runStart = i;
      }
    }
  }

  private void remove(String endpoint, KvEvent.BlockRemoved event) {
    EndpointState state = endpoints.get(endpoint);
    if (state == null) {
      return;
    }
    int entry = entry(state.id, tierId(event.medium()));
    synchronized (state) {
      if (state.cleared) {
        return;
      }
      for (long hash : event.engineBlockHashes()) {
        int node = state.engine.find(hash);
        if (node == EngineTable.NIL) {
          continue;
        }
        boolean stillHeld = false;
        for (int k = 0; k < state.engine.keyCount(node); k++) {
          long key = state.engine.keyAt(node, k);
          BlockTable stripe = stripe(key);
          synchronized (stripe) {
            stripe.remove(key, entry);
            stillHeld |= stripe.holdsEndpoint(key, state.id);
          }
        }
        if (!stillHeld) {
          state.engine.remove(hash);
        }
      }
    }
  }

  private static boolean hasExtraKeys(KvEvent.BlockStored event) {
    for (List<Object> keys : event.extraKeys()) {
      if (keys != null && !keys.isEmpty()) {
        return true;
      }
    }
    return false;
  }

  private BlockTable stripe(long key) {
    return stripes[(int) ((key ^ (key >>> 32)) & (STRIPES - 1))];
  }

  /** The id of {@code tier} (the default tier when empty), registering it with weight 1.0 when new. */
  private int tierId(String tier) {
    String name = tier == null || tier.isEmpty() ? KvEvent.DEFAULT_MEDIUM : tier;
    Integer id = tierIds.get(name);
    if (id != null) {
      return id;
    }
    synchronized (tierIds) {
      return tierIds.computeIfAbsent(name, t -> {
        int next = Math.min(tierIds.size(), MAX_TIERS - 1);
        if (next == tierWeights.length) {
          double[] weights = Arrays.copyOf(tierWeights, next + 1);
          weights[next] = 1.0;
          tierWeights = weights;
        }
        return next;
      });
    }
  }

  private static int entry(int endpointId, int tierId) {
    return (endpointId << 8) | tierId;
  }

  /**
   * What the index keeps of one endpoint: its id in packed entries and its engine map, both guarded by this
   * object's monitor (taken before a stripe's); once {@code cleared} the state is gone from the index and a writer
   * takes a fresh one, so entries with a freed id never outlive the clear.
   */
  private static final class EndpointState {
    final int id;
    final EngineTable engine;
    boolean cleared;

    EndpointState(int id, int size) {
      this.id = id;
      this.engine = new EngineTable(size);
    }
  }

  /** Endpoint ids in use; the lowest free one is handed out first, so ids stay below the most endpoints at once. */
  private static final class EndpointIds {
    private final BitSet used = new BitSet();

    synchronized int acquire() {
      int id = used.nextClearBit(0);
      if (id >= MAX_ENDPOINTS) {
        throw new IllegalStateException("more than " + MAX_ENDPOINTS + " endpoints at once");
      }
      used.set(id);
      return id;
    }

    synchronized void release(int id) {
      used.clear(id);
    }
  }
}
