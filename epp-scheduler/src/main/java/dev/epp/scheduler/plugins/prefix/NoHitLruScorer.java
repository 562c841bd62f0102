package dev.epp.scheduler.plugins.prefix;

import dev.epp.api.Endpoint;
import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.StateKey;
import dev.epp.api.TypedName;
import dev.epp.api.requestcontrol.PreRequest;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.ProfileResult;
import dev.epp.api.scheduling.SchedulingResult;
import dev.epp.api.scheduling.Scorer;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.Map;

/**
 * Spreads cold requests (no prefix-cache hit) over the endpoints that served cold requests least recently, so new KV
 * blocks grow evenly: llm-d's {@code no-hit-lru-scorer}.
 *
 * <p>A request is warm when the {@link PrefixMatch} of an {@link ApproxPrefixCacheProducer} gives any scored candidate
 * a matched block; then every candidate scores a neutral 0.5. Otherwise (also without a match) it is cold, and with
 * {@code n} candidates: the {@code i}-th candidate (in candidate order) that never served a cold request scores
 * {@code 1 - i/(n-1)}; a candidate at position {@code p} of the LRU (0 = least recent) scores
 * {@code max(0, 1 - (neverUsed + p)/(n-1))}; a single candidate scores 1.
 *
 * <p>The LRU is updated in {@link #preRequest} for cold requests only: the primary target, and the target of a
 * profile named {@code prefill}, become the most recent. It holds at most {@code lruSize} endpoint names, dropping
 * the least recent.
 *
 * <p>Parameters (llm-d names and defaults): {@code lruSize} (integer, default 1024, at least 1);
 * {@code prefixMatchInfoProducerName} (the producer whose match is read, see {@link PrefixMatch#key}; default: the
 * default producer's);
 * {@code prefixPluginType} and {@code prefixPluginName} (strings, default {@code prefix-cache-scorer}), accepted for
 * compatibility and unused, as in llm-d.
 *
 * <p><b>Threading:</b> scoring reads an immutable snapshot of the LRU without locking; updates lock.
 */
public final class NoHitLruScorer implements Scorer, PreRequest {

  /** The plugin type. */
  public static final String TYPE = "no-hit-lru-scorer";

  /** The profile whose target also counts as serving the cold request, besides the primary one. */
  static final String PREFILL_PROFILE = "prefill";

  private static final String LRU_SIZE = "lruSize";
  private static final int DEFAULT_LRU_SIZE = 1024;
  private static final double NEUTRAL = 0.5;

  private final TypedName typedName;
  private final StateKey<Boolean> coldKey;
  private final StateKey<PrefixMatch> matchKey;
  private final int lruSize;
  /** Endpoint names that served cold requests, least recent first; guarded by itself. */
  private final LinkedHashSet<String> lru = new LinkedHashSet<>();
  /** Each name in {@link #lru} to its position (0 = least recent); replaced on every update. */
  private volatile Map<String, Integer> positions = Map.of();

  /**
   * A scorer named {@code name} reading the prefix match under {@code matchKey}.
   *
   * @throws PluginConfigException if a parameter is invalid
   */
  public NoHitLruScorer(String name, StateKey<PrefixMatch> matchKey, Parameters parameters) {
    this.typedName = new TypedName(TYPE, name);
    this.coldKey = StateKey.of(name + ".cold", Boolean.class);
    this.matchKey = matchKey;
    parameters.getString("prefixPluginType", PrefixCacheScorer.TYPE);
    parameters.getString("prefixPluginName", PrefixCacheScorer.TYPE);
    this.lruSize = parameters.getInt(LRU_SIZE, DEFAULT_LRU_SIZE);
    if (lruSize < 1) {
      throw parameters.invalid(LRU_SIZE, "must be at least 1, got " + lruSize);
    }
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public void score(RequestContext context, Candidates candidates, double[] scores) {
    int n = candidates.size();
    boolean cold = isCold(context.get(matchKey), candidates);
    context.put(coldKey, cold);
    if (!cold) {
      for (int i = 0; i < n; i++) {
        scores[i] = NEUTRAL;
      }
      return;
    }
    if (n == 1) {
      scores[0] = 1.0;
      return;
    }
    Map<String, Integer> lruPositions = positions;
    double span = n - 1;
    int neverUsed = 0;
    for (int i = 0; i < n; i++) {
      if (!lruPositions.containsKey(candidates.endpoint(i).name())) {
        scores[i] = 1.0 - neverUsed / span;
        neverUsed++;
      }
    }
    for (int i = 0; i < n; i++) {
      Integer position = lruPositions.get(candidates.endpoint(i).name());
      if (position != null) {
        scores[i] = Math.max(0.0, 1.0 - (neverUsed + position) / span);
      }
    }
  }

  private static boolean isCold(PrefixMatch match, Candidates candidates) {
    if (match == null) {
      return true;
    }
    for (int i = 0, n = candidates.size(); i < n; i++) {
      if (match.matchedBlocks(candidates.position(i)) > 0) {
        return false;
      }
    }
    return true;
  }

  /** Makes the targets of a cold request the most recently used. */
  @Override
  public void preRequest(RequestContext context, SchedulingResult result) {
    if (!Boolean.TRUE.equals(context.get(coldKey))) {
      return;
    }
    markUsed(result.targets().get(0));
    ProfileResult prefill = result.profileResults().get(PREFILL_PROFILE);
    if (prefill != null && !prefill.isEmpty()) {
      markUsed(prefill.targets().get(0));
    }
  }

  private void markUsed(Endpoint endpoint) {
    synchronized (lru) {
      lru.remove(endpoint.name());
      lru.add(endpoint.name());
      if (lru.size() > lruSize) {
        Iterator<String> leastRecent = lru.iterator();
        leastRecent.next();
        leastRecent.remove();
      }
      Map<String, Integer> updated = new HashMap<>(lru.size() * 2);
      int position = 0;
      for (String name : lru) {
        updated.put(name, position++);
      }
      positions = updated;
    }
  }

  /** Creates {@link NoHitLruScorer}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    /**
     * Creates the scorer.
     *
     * @throws PluginConfigException if a parameter is invalid or the named producer is not declared
     */
    @Override
    public NoHitLruScorer create(PluginSpec spec, PluginHandle handle) {
      return new NoHitLruScorer(spec.name(), PrefixMatch.key(spec.parameters(), handle), spec.parameters());
    }
  }
}
