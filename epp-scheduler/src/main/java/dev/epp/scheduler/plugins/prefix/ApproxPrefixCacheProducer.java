package dev.epp.scheduler.plugins.prefix;

import dev.epp.api.ConfigDialect;
import dev.epp.api.Endpoint;
import dev.epp.api.EndpointStore;
import dev.epp.api.InferenceRequest;
import dev.epp.api.MetricsRecorder;
import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestBody;
import dev.epp.api.RequestContext;
import dev.epp.api.StateKey;
import dev.epp.api.TypedName;
import dev.epp.api.requestcontrol.PreRequest;
import dev.epp.api.requestcontrol.PrepareData;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.ProfileResult;
import dev.epp.api.scheduling.SchedulingResult;
import java.util.List;
import java.util.function.LongSupplier;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Approximates which endpoints hold a request's prompt prefix in their KV cache, from the requests it has routed
 * there: the Go EPP's {@code approx-prefix-cache-producer}.
 *
 * <p>{@link #prepareData} hashes the request's {@link RequestBody#prompt()} into blocks of
 * {@code blockSizeTokens × 4} characters and stores a {@link PrefixMatch} under {@link PrefixMatch#KEY} and
 * {@link #matchKey()}: for each candidate, how many leading blocks it probably holds. {@link #preRequest} records that the primary target (and
 * the target of a profile named {@code prefill}) now holds every block, and stores the target's
 * {@link PrefixCacheHit} under {@link PrefixCacheHit#KEY}. As an {@link EndpointStore.Listener} it forgets an
 * endpoint that leaves the pool.
 *
 * <p>Parameters (Go names and defaults):
 *
 * <ul>
 *   <li>{@code autoTune} (boolean, default true): use the first candidate's scraped {@code cacheBlockSize} as the
 *       block size and each server's {@code cacheNumBlocks} as its index capacity, when scraped.
 *   <li>{@code blockSizeTokens} (integer, default 16): tokens per block; must be above 0 unless {@code autoTune}.
 *   <li>{@code maxPrefixBlocksToMatch} (integer, default 256): the most blocks hashed per request; above 0.
 *   <li>{@code maxPrefixTokensToMatch} (integer, default 0 = off): when above 0, the most blocks is this divided by
 *       the block size.
 *   <li>{@code lruCapacityPerServer} (integer, default 31250): block hashes remembered per server when its
 *       {@code cacheNumBlocks} is not used; above 0.
 *   <li>{@code blockSize} (deprecated, characters): rejected unless {@code blockSizeTokens} is given too.
 * </ul>
 *
 * <p>Differences from Go v1.5, on purpose: the trailing partial block is hashed (as on Go main after v1.5); a
 * server is credited with block {@code i} only if it also holds every earlier block; {@code lruCapacityPerServer}
 * is honoured (Go always uses 31250); the index is updated synchronously in {@link #preRequest}, without a global
 * lock; endpoints are forgotten when they leave the pool rather than by a sweep every two minutes; and the
 * {@link PrefixCacheHit} uses the block size the request was hashed with.
 *
 * <p>Replicas of an EPP can share what they index: an {@link InsertListener} hears each insert {@link #preRequest}
 * makes, and {@link #applyRemoteInsert} applies another replica's insert without telling the listeners.
 *
 * <p><b>Threading:</b> thread-safe; see {@link PrefixIndex} for the locking.
 */
public final class ApproxPrefixCacheProducer
    implements PrefixMatchProducer, PrepareData, PreRequest, EndpointStore.Listener, AutoCloseable {

  /** The plugin type. */
  public static final String TYPE = "approx-prefix-cache-producer";

  /** The profile whose target is indexed too, for prefill/decode disaggregation (hard-coded in Go as well). */
  public static final String PREFILL_PROFILE = "prefill";

  private static final StateKey<Prepared> PREPARED = StateKey.of(TYPE, Prepared.class);
  private static final int[] NO_MATCH = {};

  private final TypedName typedName;
  private final StateKey<PrefixMatch> matchKey;
  private final PrefixCacheConfig config;
  private final PrefixIndex index = new PrefixIndex();
  private final MetricsRecorder metrics;
  private final LongSupplier indexSize = index::size;
  private final List<InsertListener> listeners = new CopyOnWriteArrayList<>();

  /**
   * A producer named {@code name} configured by {@code parameters}, with {@code dialect}'s defaults for those left
   * out, which adds its index size to {@code metrics} and records each request's prefix-cache match there.
   *
   * @throws PluginConfigException if a parameter is invalid
   */
  public ApproxPrefixCacheProducer(String name, Parameters parameters, ConfigDialect dialect,
      MetricsRecorder metrics) {
    this.typedName = new TypedName(TYPE, name);
    this.matchKey = StateKey.of(TYPE + "/" + name, PrefixMatch.class);
    this.config = PrefixCacheConfig.parse(parameters, dialect);
    this.metrics = metrics;
    metrics.addPrefixIndexSize(indexSize);
  }

  /** Stops reporting this producer's index size (a configuration reload replaced it). Idempotent. */
  @Override
  public void close() {
    metrics.removePrefixIndexSize(indexSize);
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public StateKey<PrefixMatch> matchKey() {
    return matchKey;
  }

  /** The number of block hashes held over all servers: the {@code inference_extension_prefix_indexer_size}. */
  public long indexSize() {
    return index.size();
  }

  PrefixIndex index() {
    return index;
  }

  /**
   * Hashes the prompt and matches it against the index.
   *
   * @param candidates every candidate of the request, with positions {@code 0..size()-1}
   */
  @Override
  public void prepareData(RequestContext context, Candidates candidates) {
    InferenceRequest request = context.request();
    RequestBody body = request.body();
    int n = candidates.size();
    int tokens = config.blockSizeTokens(n == 0 ? null : candidates.metrics(0));
    int blockChars = (int) Math.min(Integer.MAX_VALUE, (long) tokens * PrefixCacheConfig.CHARS_PER_TOKEN);
    long[] hashes = PrefixHasher.hash(
        request.targetModel(), body.cacheSalt(), body.prompt(), blockChars, config.maxBlocks(tokens));
    PrefixIndex.Matches matches = index.match(hashes);
    int[] matched = NO_MATCH;
    if (!matches.isEmpty()) {
      matched = new int[n];
      for (int i = 0; i < n; i++) {
        matched[candidates.position(i)] = matches.blocks(index.id(candidates.endpoint(i).name()));
      }
    }
    PrefixMatch match = PrefixMatch.of(matched, candidates, hashes.length, tokens);
    context.put(PrefixMatch.KEY, match);
    context.put(matchKey, match);
    context.put(PREPARED, new Prepared(match, hashes, candidates));
  }

  /** Records the primary (and {@value #PREFILL_PROFILE}) target as holding the prompt's blocks. */
  @Override
  public void preRequest(RequestContext context, SchedulingResult result) {
    Prepared prepared = context.get(PREPARED);
    if (prepared == null) {
      return;
    }
    PrefixMatch match = prepared.match;
    Endpoint target = result.targets().get(0);
    int i = match.index(target);
    record(prepared, target, i);
    ProfileResult prefill = result.profileResults().get(PREFILL_PROFILE);
    if (prefill != null && !prefill.isEmpty() && !PREFILL_PROFILE.equals(result.primaryProfile())) {
      Endpoint prefillTarget = prefill.targets().get(0);
      record(prepared, prefillTarget, match.index(prefillTarget));
    }
    int matched = i < 0 ? 0 : match.matchedBlocks(prepared.candidates.position(i));
    PrefixCacheHit hit = new PrefixCacheHit(matched, match.totalBlocks(), match.blockSizeTokens());
    context.put(PrefixCacheHit.KEY, hit);
    metrics.recordPrefixCacheMatch(hit.hitBytes(), hit.totalBytes());
  }

  /**
   * Indexes {@code target}, candidate {@code i} (-1 if none), as holding the prompt's blocks, with the capacity its
   * metrics give.
   */
  private void record(Prepared prepared, Endpoint target, int i) {
    if (prepared.hashes.length > 0) {
      int capacity = i >= 0 ? config.capacity(prepared.candidates.metrics(i)) : config.lruCapacityPerServer();
      index.add(target.name(), capacity, prepared.hashes);
      for (InsertListener listener : listeners) {
        listener.inserted(target.name(), capacity, prepared.hashes);
      }
    }
  }

  /** Makes {@code listener} hear every later insert {@link #preRequest} makes. */
  public void addInsertListener(InsertListener listener) {
    listeners.add(listener);
  }

  /** Stops {@code listener} hearing inserts; nothing if it was not added. */
  public void removeInsertListener(InsertListener listener) {
    listeners.remove(listener);
  }

  /**
   * Records that {@code endpoint} holds every hash in {@code hashes}, as another replica's {@link InsertListener}
   * heard it, without telling this producer's listeners. Ignored for an endpoint that left the pool (until it is
   * {@linkplain #added added} again).
   *
   * @param capacity the endpoint's index capacity if this is its first insert; at least 1
   * @param hashes the chained block hashes, first block first
   * @throws IllegalArgumentException if {@code capacity} is below 1
   */
  public void applyRemoteInsert(String endpoint, int capacity, long[] hashes) {
    if (capacity < 1) {
      throw new IllegalArgumentException("capacity must be at least 1, got " + capacity);
    }
    if (hashes.length > 0) {
      index.add(endpoint, capacity, hashes);
    }
  }

  /** Accepts index updates for {@code endpoint} again if it was removed before. */
  @Override
  public void added(Endpoint endpoint) {
    index.added(endpoint.name());
  }

  /** Drops everything {@code endpoint} holds from the index. */
  @Override
  public void removed(Endpoint endpoint) {
    index.remove(endpoint.name());
  }

  /** Hears the inserts of a producer's {@link #preRequest}, for replicating them to other replicas. */
  @FunctionalInterface
  public interface InsertListener {

    /**
     * Called on the request path after {@code endpoint} was recorded as holding {@code hashes}; must return quickly
     * without blocking or throwing, and must not modify {@code hashes} (copy it to keep it).
     *
     * @param capacity the endpoint's index capacity (hashes it may hold)
     */
    void inserted(String endpoint, int capacity, long[] hashes);
  }

  /** What {@link #prepareData} leaves for {@link #preRequest}. */
  private record Prepared(PrefixMatch match, long[] hashes, Candidates candidates) {}

  /** Creates {@link ApproxPrefixCacheProducer}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public ApproxPrefixCacheProducer create(PluginSpec spec, PluginHandle handle) {
      return new ApproxPrefixCacheProducer(spec.name(), spec.parameters(), handle.dialect(), handle.metrics());
    }
  }
}
