package dev.epp.kvcache;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointStore;
import dev.epp.api.MetricsRecorder;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.StateKey;
import dev.epp.api.TypedName;
import dev.epp.api.requestcontrol.PreRequest;
import dev.epp.api.requestcontrol.PrepareData;
import dev.epp.api.requestcontrol.TokenizedPrompt;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.ProfileResult;
import dev.epp.api.scheduling.SchedulingResult;
import dev.epp.kvcache.events.KvEventSink;
import dev.epp.kvcache.events.KvEventSubscribers;
import dev.epp.kvcache.index.BlockKeys;
import dev.epp.kvcache.index.KvBlockIndex;
import dev.epp.scheduler.plugins.prefix.PrefixMatch;
import dev.epp.scheduler.plugins.prefix.PrefixMatchProducer;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which endpoints hold a request's prompt prefix, from what their engines report in KV-cache events: llm-d's
 * {@code precise-prefix-cache-producer}.
 *
 * <p>As an {@link EndpointStore.Listener} it subscribes to each endpoint's KV-cache events (the subscriptions start
 * with the first endpoint) and feeds them to a {@link KvBlockIndex}; an endpoint that leaves is unsubscribed and
 * forgotten. {@link #prepareData} derives the block keys of the request's {@link TokenizedPrompt} (stored earlier by a
 * token producer such as {@code token-producer}) and stores a {@link PrefixMatch} under {@link PrefixMatch#KEY} and
 * {@link #matchKey()}, as {@code approx-prefix-cache-producer} does, so {@code prefix-cache-scorer} and
 * {@code prefix-cache-affinity-filter} consume it unchanged. A candidate's matched blocks are llm-d's longest-prefix
 * score rounded down: over the leading blocks it holds in a row, the sum of the best tier weight of each (gpu 1.0,
 * cpu 0.8 by default). Without a tokenized prompt no match is stored and {@link #requestsWithoutTokens()} counts it.
 *
 * <p>Parameters (llm-d names and defaults; unknown keys are rejected):
 *
 * <ul>
 *   <li>{@code tokenProcessorConfig}: {@code blockSizeTokens} (16; {@code blockSize} is its deprecated alias),
 *       {@code hashSeed} (""), {@code hashAlgorithm} ({@code cbor-fnv}, the only one supported).
 *   <li>{@code indexerConfig}: {@code kvBlockIndexConfig.inMemoryConfig.size} (most block keys, default
 *       {@value KvBlockIndex#DEFAULT_SIZE}, see there why not llm-d's 1e8), {@code ...podCacheSize} (10),
 *       {@code kvBlockIndexConfig.enableMetrics} (false; when true the index's size, admissions, evictions and
 *       lookups are exported as llm-d's {@code llm_d_epp_kv_cache_index_*} families),
 *       {@code kvCacheBackendConfigs} (list of {@code name}/{@code weight}; default gpu 1.0, cpu 0.8).
 *   <li>{@code kvEventsConfig}: {@code socketPort} (5557), {@code topicFilter} ({@code kv@}), {@code concurrency}
 *       (4), {@code discoverPods} (true; the only mode supported), {@code replaySocketPort} (0 = none),
 *       {@code engineType} ({@code vllm}, the only one supported).
 *   <li>{@code speculativeIndexing} (false) and {@code speculativeTTL} (2s): when on, {@link #preRequest} records the
 *       primary target (and the {@value #PREFILL_PROFILE} profile's) as holding the request's blocks for the TTL, so
 *       requests that follow before its engine's events arrive go there too.
 * </ul>
 *
 * <p><b>Threading:</b> thread-safe; {@link #prepareData} takes no lock beyond the index's per-key stripes.
 */
public final class PrecisePrefixCacheProducer
    implements PrefixMatchProducer, PrepareData, PreRequest, EndpointStore.Listener, AutoCloseable {

  /** The plugin type. */
  public static final String TYPE = "precise-prefix-cache-producer";

  private static final Logger log = LoggerFactory.getLogger(PrecisePrefixCacheProducer.class);

  /** The profile whose target is recorded speculatively too, as llm-d's. */
  public static final String PREFILL_PROFILE = "prefill";

  private static final StateKey<long[]> BLOCK_KEYS = StateKey.of(TYPE + "/block-keys", long[].class);

  /** The subscriptions to endpoints' KV-cache events the producer drives. */
  public interface Subscriptions extends AutoCloseable {
    /** Subscribes to {@code endpoint}'s events. */
    void subscribe(Endpoint endpoint);

    /** Ends the subscription of the endpoint named {@code name} and clears its blocks. */
    void unsubscribe(String name);

    @Override
    void close();
  }

  private final TypedName typedName;
  private final StateKey<PrefixMatch> matchKey;
  private final KvBlockIndex index;
  private final Function<KvEventSink, Subscriptions> subscriptionsFactory;
  private final Speculation speculation;
  private final LongAdder requestsWithoutTokens = new LongAdder();
  private Subscriptions subscriptions;
  private boolean closed;
  private Runnable unregisterMetrics = () -> {};

  /**
   * Speculative indexing: after a pick, the target holds the request's blocks for {@code ttl} (removed by a task on
   * {@code scheduler}) or until its engine reports them.
   */
  public record Speculation(Duration ttl, ScheduledExecutorService scheduler) {}

  /**
   * A producer named {@code name} matching against {@code index}, whose events come from the subscriptions
   * {@code subscriptionsFactory} makes (called once, with the index, when the first endpoint is added).
   *
   * @param speculation speculative indexing, or {@code null} for none
   */
  public PrecisePrefixCacheProducer(String name, KvBlockIndex index,
      Function<KvEventSink, Subscriptions> subscriptionsFactory, Speculation speculation) {
    this.typedName = new TypedName(TYPE, name);
    this.matchKey = StateKey.of(TYPE + "/" + name, PrefixMatch.class);
    this.index = index;
    this.subscriptionsFactory = subscriptionsFactory;
    this.speculation = speculation;
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public StateKey<PrefixMatch> matchKey() {
    return matchKey;
  }

  /** The index the events build. */
  public KvBlockIndex index() {
    return index;
  }

  /** The number of requests that reached {@link #prepareData} without a {@link TokenizedPrompt}. */
  public long requestsWithoutTokens() {
    return requestsWithoutTokens.sum();
  }

  @Override
  public void prepareData(RequestContext context, Candidates candidates) {
    TokenizedPrompt prompt = context.get(TokenizedPrompt.KEY);
    if (prompt == null) {
      requestsWithoutTokens.increment();
      return;
    }
    BlockKeys blockKeys = index.blockKeys();
    long[] keys = blockKeys.keys(context.request().targetModel(), prompt.tokenIds());
    int n = candidates.size();
    String[] names = new String[n];
    for (int i = 0; i < n; i++) {
      names[i] = candidates.endpoint(i).name();
    }
    double[] scores = index.match(keys, names);
    int[] matched = new int[n];
    for (int i = 0; i < n; i++) {
      matched[candidates.position(i)] = (int) scores[i];
    }
    PrefixMatch match = PrefixMatch.of(matched, candidates, keys.length, blockKeys.blockSize());
    context.put(PrefixMatch.KEY, match);
    context.put(matchKey, match);
    if (speculation != null) {
      context.put(BLOCK_KEYS, keys);
    }
  }

  /**
   * With speculative indexing, records the primary target (and the {@value #PREFILL_PROFILE} profile's) as holding
   * the request's blocks for the TTL.
   */
  @Override
  public void preRequest(RequestContext context, SchedulingResult result) {
    long[] keys = context.get(BLOCK_KEYS);
    if (speculation == null || keys == null || keys.length == 0 || result.targets().isEmpty()) {
      return;
    }
    speculate(result.targets().get(0).name(), keys);
    ProfileResult prefill = result.profileResults().get(PREFILL_PROFILE);
    if (prefill != null && !prefill.isEmpty() && !PREFILL_PROFILE.equals(result.primaryProfile())) {
      speculate(prefill.targets().get(0).name(), keys);
    }
  }

  private void speculate(String endpoint, long[] keys) {
    index.addSpeculative(endpoint, keys);
    speculation.scheduler().schedule(() -> index.removeSpeculative(endpoint, keys),
        speculation.ttl().toNanos(), TimeUnit.NANOSECONDS);
  }

  /**
   * Subscribes to the endpoint's KV-cache events (starting the subscriptions with the first endpoint). An endpoint that
   * cannot be subscribed to (its events port out of range) is logged and left unindexed: the pool's other listeners
   * must still hear of it.
   */
  @Override
  public synchronized void added(Endpoint endpoint) {
    if (closed) {
      return;
    }
    if (subscriptions == null) {
      subscriptions = subscriptionsFactory.apply(index);
    }
    try {
      subscriptions.subscribe(endpoint);
    } catch (RuntimeException e) {
      log.warn("{}: not indexing the KV-cache events of endpoint {}: {}", typedName, endpoint.name(), e.getMessage());
    }
  }

  /** Unsubscribes from the endpoint and forgets its blocks. */
  @Override
  public synchronized void removed(Endpoint endpoint) {
    if (subscriptions != null) {
      subscriptions.unsubscribe(endpoint.name());
    }
    index.clear(endpoint.name());
  }

  /**
   * Closes the subscriptions and stops reporting the index's metrics (a configuration reload replaced the producer);
   * later pool changes are ignored. Idempotent.
   */
  @Override
  public synchronized void close() {
    closed = true;
    unregisterMetrics.run();
    if (subscriptions != null) {
      subscriptions.close();
      subscriptions = null;
    }
  }

  /**
   * Creates {@link PrecisePrefixCacheProducer}s subscribing through {@link KvEventSubscribers}, or through the
   * subscriptions a caller supplies.
   */
  public static final class Factory implements PluginFactory {

    private final Function<KvEventSink, Subscriptions> subscriptions;

    /** For {@link java.util.ServiceLoader}: producers subscribe over ZeroMQ as {@code kvEventsConfig} says. */
    public Factory() {
      this(null);
    }

    /**
     * Producers whose events come from the subscriptions {@code subscriptions} makes from their index (see the
     * producer's constructor) instead of ZeroMQ, for an in-process event source such as a simulation;
     * {@code kvEventsConfig} is still validated. {@code null} means ZeroMQ.
     */
    public Factory(Function<KvEventSink, Subscriptions> subscriptions) {
      this.subscriptions = subscriptions;
    }

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public PrecisePrefixCacheProducer create(PluginSpec spec, PluginHandle handle) {
      PrecisePrefixConfig config = PrecisePrefixConfig.parse(spec.parameters());
      MetricsRecorder metrics = handle.metrics();
      Speculation speculation = config.speculativeIndexing()
          ? new Speculation(config.speculativeTtl(), handle.scheduler()) : null;
      PrecisePrefixCacheProducer producer = new PrecisePrefixCacheProducer(spec.name(), config.index(), subscriptions != null ? subscriptions
          : sink -> new KvSubscriptions(KvEventSubscribers.builder(sink)
              .socketPort(config.socketPort())
              .topicFilter(config.topicFilter())
              .concurrency(config.concurrency())
              .replaySocketPort(config.replaySocketPort())
              .metrics(metrics)
              .build()), speculation);
      if (config.enableMetrics()) {
        IndexStats stats = new IndexStats(config.index());
        metrics.addKvCacheIndex(stats);
        producer.unregisterMetrics = () -> metrics.removeKvCacheIndex(stats);
      }
      return producer;
    }
  }

  /** What {@link KvBlockIndex} counts, for the metrics. */
  private record IndexStats(KvBlockIndex index) implements MetricsRecorder.KvCacheIndexStats {
    @Override
    public long keys() {
      return index.size();
    }

    @Override
    public long admissions() {
      return index.admissions();
    }

    @Override
    public long evictions() {
      return index.evictions();
    }

    @Override
    public long lookups() {
      return index.lookups();
    }

    @Override
    public long lookupHits() {
      return index.lookupHits();
    }
  }

  /** {@link Subscriptions} over {@link KvEventSubscribers}. */
  private record KvSubscriptions(KvEventSubscribers subscribers) implements Subscriptions {
    @Override
    public void subscribe(Endpoint endpoint) {
      subscribers.subscribe(endpoint);
    }

    @Override
    public void unsubscribe(String name) {
      subscribers.unsubscribe(name);
    }

    @Override
    public void close() {
      subscribers.close();
    }
  }

}
