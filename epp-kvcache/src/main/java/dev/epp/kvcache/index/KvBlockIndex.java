package dev.epp.kvcache.index;

import dev.epp.kvcache.events.KvEvent;
import dev.epp.kvcache.events.KvEventSink;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
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
 * <p><b>Threading:</b> thread-safe. Keys live in 64 stripes, each a map guarded by its own monitor held only for one
 * key's lookup or update, so a reader waits at most for one key's update; each endpoint's engine map is guarded by
 * its own monitor.
 */
public final class KvBlockIndex implements KvEventSink {

  /**
   * The default most keys: 1,000,000 rather than llm-d's 1e8. Each key costs about 150 bytes here (a boxed map
   * entry and its holders), so 1e8 could take ~15 GB; one million (~150 MB at most) covers 16 M tokens of distinct
   * prefixes at 16 tokens per block.
   */
  public static final int DEFAULT_SIZE = 1_000_000;

  /** The tier of blocks recorded by {@link #addSpeculative}. */
  public static final String SPECULATIVE_TIER = "speculative";

  /** The default most (endpoint, tier) entries per key, as llm-d. */
  public static final int DEFAULT_POD_CACHE_SIZE = 10;

  private static final Logger log = LoggerFactory.getLogger(KvBlockIndex.class);
  private static final int STRIPES = 64;
  private static final int MAX_TIERS = 255;

  private final BlockKeys blockKeys;
  private final int size;
  private final int podCacheSize;
  private final Stripe[] stripes = new Stripe[STRIPES];
  private final Map<String, Integer> endpointIds = new ConcurrentHashMap<>();
  private final AtomicInteger nextEndpointId = new AtomicInteger();
  private final Map<String, EngineKeys> engineKeys = new ConcurrentHashMap<>();
  private final Map<String, Integer> tierIds = new ConcurrentHashMap<>();
  private volatile double[] tierWeights = new double[0];
  private final LongAdder skippedStores = new LongAdder();

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
      stripes[i] = new Stripe(perStripe);
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
    for (Stripe stripe : stripes) {
      synchronized (stripe) {
        total += stripe.map.size();
      }
    }
    return total;
  }

  /** The number of stores skipped: unknown parent or extra keys. */
  public long skippedStores() {
    return skippedStores.sum();
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
    int entry = entry(endpointId(endpoint), tierId(SPECULATIVE_TIER));
    for (long key : keys) {
      Stripe stripe = stripe(key);
      synchronized (stripe) {
        stripe.map.computeIfAbsent(key, k -> new Holders()).add(entry, podCacheSize);
      }
    }
  }

  /** Removes what {@link #addSpeculative} recorded; blocks the engine reported meanwhile stay. */
  public void removeSpeculative(String endpoint, long[] keys) {
    Integer id = endpointIds.get(endpoint);
    if (id == null) {
      return;
    }
    int entry = entry(id, tierId(SPECULATIVE_TIER));
    for (long key : keys) {
      Stripe stripe = stripe(key);
      synchronized (stripe) {
        Holders holders = stripe.map.get(key);
        if (holders != null) {
          holders.remove(entry);
          if (holders.count == 0) {
            stripe.map.remove(key);
          }
        }
      }
    }
  }

  @Override
  public void clear(String endpoint) {
    engineKeys.remove(endpoint);
    Integer id = endpointIds.get(endpoint);
    if (id == null) {
      return;
    }
    for (Stripe stripe : stripes) {
      synchronized (stripe) {
        Iterator<Holders> it = stripe.map.values().iterator();
        while (it.hasNext()) {
          Holders holders = it.next();
          holders.removeEndpoint(id);
          if (holders.count == 0) {
            it.remove();
          }
        }
      }
    }
  }

  /**
   * For each candidate, llm-d's longest-prefix score of {@code keys}: over the leading blocks the candidate holds
   * in a row, the sum of the highest weight of the tiers it holds each on.
   *
   * @param keys the request's block keys, in order
   * @param endpoints the candidates' names
   * @return the scores, indexed like {@code endpoints}
   */
  public double[] match(long[] keys, String[] endpoints) {
    int n = endpoints.length;
    double[] scores = new double[n];
    int[] ids = new int[n];
    int[] active = new int[n];
    int activeCount = 0;
    for (int j = 0; j < n; j++) {
      Integer id = endpointIds.get(endpoints[j]);
      if (id != null) {
        ids[j] = id;
        active[activeCount++] = j;
      }
    }
    double[] weights = tierWeights;
    for (int i = 0; i < keys.length && activeCount > 0; i++) {
      Stripe stripe = stripe(keys[i]);
      synchronized (stripe) {
        Holders holders = stripe.map.get(keys[i]);
        int kept = 0;
        for (int a = 0; a < activeCount && holders != null; a++) {
          int j = active[a];
          double weight = holders.bestWeight(ids[j], weights);
          if (weight > 0) {
            scores[j] += weight;
            active[kept++] = j;
          }
        }
        activeCount = kept;
      }
    }
    return scores;
  }

  private void store(String endpoint, String model, KvEvent.BlockStored event) {
    if (hasExtraKeys(event)) {
      skippedStores.increment();
      log.debug("Skipping a store of {} blocks on {}: blocks with extra keys are not indexed",
          event.engineBlockHashes().length, endpoint);
      return;
    }
    EngineKeys engine = engineKeys.computeIfAbsent(endpoint, e -> new EngineKeys(size));
    int entry = entry(endpointId(endpoint), tierId(event.medium()));
    long[] requestKeys;
    synchronized (engine) {
      long parent;
      if (event.hasParent()) {
        long[] parentKeys = engine.map.get(event.parentEngineBlockHash());
        if (parentKeys == null) {
          skippedStores.increment();
          log.debug("Skipping a store of {} blocks on {}: parent block {} is unknown",
              event.engineBlockHashes().length, endpoint, event.parentEngineBlockHash());
          return;
        }
        parent = parentKeys[parentKeys.length - 1];
      } else {
        String effectiveModel = event.loraName() != null && !event.loraName().isEmpty() ? event.loraName() : model;
        parent = blockKeys.rootKey(effectiveModel);
      }
      int[] tokens = event.tokenIds();
      requestKeys = blockKeys.keys(parent, tokens, 0, tokens.length);
      long[] engineHashes = event.engineBlockHashes();
      if (requestKeys.length == 0) {
        requestKeys = resolve(engine, engineHashes);
      } else {
        mapEngineKeys(engine, engineHashes, requestKeys);
      }
    }
    for (long key : requestKeys) {
      Stripe stripe = stripe(key);
      synchronized (stripe) {
        stripe.map.computeIfAbsent(key, k -> new Holders()).add(entry, podCacheSize);
      }
    }
  }

  /** The last request key of each engine hash known, for a tier-only store. */
  private static long[] resolve(EngineKeys engine, long[] engineHashes) {
    long[] resolved = new long[engineHashes.length];
    int count = 0;
    for (long hash : engineHashes) {
      long[] keys = engine.map.get(hash);
      if (keys != null) {
        resolved[count++] = keys[keys.length - 1];
      }
    }
    return Arrays.copyOf(resolved, count);
  }

  /** Maps engine blocks onto request blocks proportionally, as llm-d: the block sizes may differ. */
  private static void mapEngineKeys(EngineKeys engine, long[] engineHashes, long[] requestKeys) {
    if (engineHashes.length == 0) {
      return;
    }
    int n = Math.max(engineHashes.length, requestKeys.length);
    List<Long> run = new ArrayList<>();
    int current = 0;
    for (int i = 0; i < n; i++) {
      int e = (int) ((long) i * engineHashes.length / n);
      if (e != current) {
        engine.put(engineHashes[current], run);
        run.clear();
        current = e;
      }
      run.add(requestKeys[(int) ((long) i * requestKeys.length / n)]);
    }
    engine.put(engineHashes[current], run);
  }

  private void remove(String endpoint, KvEvent.BlockRemoved event) {
    EngineKeys engine = engineKeys.get(endpoint);
    Integer id = endpointIds.get(endpoint);
    if (engine == null || id == null) {
      return;
    }
    int entry = entry(id, tierId(event.medium()));
    synchronized (engine) {
      for (long hash : event.engineBlockHashes()) {
        long[] keys = engine.map.get(hash);
        if (keys == null) {
          continue;
        }
        boolean stillHeld = false;
        for (long key : keys) {
          Stripe stripe = stripe(key);
          synchronized (stripe) {
            Holders holders = stripe.map.get(key);
            if (holders != null) {
              holders.remove(entry);
              if (holders.count == 0) {
                stripe.map.remove(key);
              } else if (holders.holdsEndpoint(id)) {
                stillHeld = true;
              }
            }
          }
        }
        if (!stillHeld) {
          engine.map.remove(hash);
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

  private Stripe stripe(long key) {
    return stripes[(int) ((key ^ (key >>> 32)) & (STRIPES - 1))];
  }

  private int endpointId(String endpoint) {
    return endpointIds.computeIfAbsent(endpoint, e -> nextEndpointId.getAndIncrement());
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

  /** One stripe of keys, least recently used first. */
  private static final class Stripe {
    final LinkedHashMap<Long, Holders> map;

    Stripe(int capacity) {
      map = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, Holders> eldest) {
          return size() > capacity;
        }
      };
    }
  }

  /** One endpoint's engine hashes and the request keys each maps to, least recently stored first. */
  private static final class EngineKeys {
    final LinkedHashMap<Long, long[]> map;

    EngineKeys(int capacity) {
      map = new LinkedHashMap<>(16, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, long[]> eldest) {
          return size() > capacity;
        }
      };
    }

    void put(long hash, List<Long> keys) {
      long[] array = new long[keys.size()];
      for (int i = 0; i < array.length; i++) {
        array[i] = keys.get(i);
      }
      map.put(hash, array);
    }
  }

  /** The (endpoint, tier) entries holding one key, packed as {@code endpointId << 8 | tierId}, oldest first. */
  private static final class Holders {
    int[] entries = new int[2];
    int count;

    void add(int entry, int limit) {
      remove(entry);
      if (count == limit) {
        System.arraycopy(entries, 1, entries, 0, --count);
      }
      if (count == entries.length) {
        entries = Arrays.copyOf(entries, Math.min(limit, count * 2));
      }
      entries[count++] = entry;
    }

    void remove(int entry) {
      for (int i = 0; i < count; i++) {
        if (entries[i] == entry) {
          System.arraycopy(entries, i + 1, entries, i, --count - i);
          return;
        }
      }
    }

    void removeEndpoint(int endpointId) {
      int kept = 0;
      for (int i = 0; i < count; i++) {
        if (entries[i] >>> 8 != endpointId) {
          entries[kept++] = entries[i];
        }
      }
      count = kept;
    }

    boolean holdsEndpoint(int endpointId) {
      for (int i = 0; i < count; i++) {
        if (entries[i] >>> 8 == endpointId) {
          return true;
        }
      }
      return false;
    }

    double bestWeight(int endpointId, double[] weights) {
      double best = 0;
      for (int i = 0; i < count; i++) {
        if (entries[i] >>> 8 == endpointId) {
          int tier = entries[i] & 0xff;
          best = Math.max(best, tier < weights.length ? weights[tier] : 1.0);
        }
      }
      return best;
    }
  }
}
