package dev.epp.scheduler.flowcontrol;

import dev.epp.api.MetricsRecorder;
import dev.epp.api.Parameters;
import dev.epp.api.Ticker;
import dev.epp.api.flowcontrol.FairnessPolicy;
import dev.epp.api.flowcontrol.FlowQueue;
import dev.epp.api.flowcontrol.OrderingPolicy;
import dev.epp.api.flowcontrol.UsageLimitPolicy;
import dev.epp.scheduler.plugins.flowcontrol.FcfsOrdering;
import dev.epp.scheduler.plugins.flowcontrol.GlobalStrictFairness;
import dev.epp.scheduler.plugins.flowcontrol.StaticUsageLimit;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Holds requests until the pool can take them (llm-d's flow control). Thread-safe; never blocks a caller beyond a
 * short critical section.
 *
 * <p><b>Dispatch:</b> a cycle reads the pool's saturation, asks the {@link UsageLimitPolicy} for each band's ceiling,
 * and visits the bands from the highest priority down: the first band whose ceiling the saturation reaches stops the
 * cycle (head-of-line blocking, so lower priorities never overtake it); otherwise the band's {@link FairnessPolicy}
 * picks a flow, and the flow's head by the band's {@link OrderingPolicy} is dispatched. As in llm-d a cycle
 * dispatches one request and the saturation is read again before the next, so every dispatch sees the load the
 * previous ones added, provided the {@link SaturationSource} counts a dispatched request as soon as it is routed
 * (the in-flight accounting of {@code concurrency-detector} does; a scrape-based detector lags by its scrape
 * interval, the same in llm-d). Cycles repeat until one dispatches nothing.
 *
 * <p><b>Where dispatch runs:</b> on the calling thread of {@link #enqueue} and {@link #signal}, at most one at a time:
 * a caller that finds another thread dispatching leaves a flag and returns at once, and the dispatching thread runs
 * another cycle before it stops. There is no dispatcher thread and no hand-off per request; each dispatch is
 * O(log n) plus the fairness policy's pick. Outcomes are completed outside the lock.
 *
 * <p><b>Expiry:</b> one sweep every {@code expiryCleanupInterval} on the given scheduler evicts requests whose TTL
 * (or, while the pool has no endpoints, {@code noEndpointRequestTTL}) has passed, counted from the later of enqueue
 * and the last change between "has endpoints" and "has none" (llm-d's rule); it also collects flows idle for
 * {@code flowGcTimeout} and template bands idle for {@code priorityBandGcTimeout}, and runs a dispatch cycle.
 *
 * <p><b>Capacity:</b> a request that would exceed the global or its band's request or byte limit is rejected at
 * enqueue ({@code REJECTED_NO_ENDPOINTS} instead of {@code REJECTED_CAPACITY} while the pool has no endpoints).
 */
public final class FlowController implements AutoCloseable {

  /** What the controller needs to know about the pool; called under the dispatch lock, so it must be cheap. */
  public interface SaturationSource {

    /** The pool's saturation: below 1.0 has room, 1.0 or more is saturated. */
    double saturation();

    /** Whether the pool has endpoints; while it has none, queued requests wait at most {@code noEndpointRequestTTL}. */
    default boolean hasEndpoints() {
      return true;
    }
  }

  private static final Logger log = LoggerFactory.getLogger(FlowController.class);
  private static final Comparator<Integer> HIGHEST_FIRST = Comparator.reverseOrder();

  private final FlowControlConfig config;
  private final SaturationSource pool;
  private final UsageLimitPolicy usageLimit;
  private final FairnessPolicy defaultFairness;
  private final OrderingPolicy defaultOrdering;
  private final Ticker ticker;
  private final MetricsRecorder metrics;
  private final long defaultTtlNanos;
  private final long noEndpointTtlNanos;
  private final ScheduledFuture<?> sweeper;

  private final ReentrantLock lock = new ReentrantLock();
  private final AtomicBoolean dispatchPending = new AtomicBoolean();
  // Guarded by lock:
  private final TreeMap<Integer, BandQueue> bands = new TreeMap<>(HIGHEST_FIRST);
  private BandQueue[] bandOrder = new BandQueue[0];
  private int[] priorities = new int[0];
  private double[] ceilings = new double[0];
  private volatile long requests; // written under lock; read without it by signal()
  private long bytes;
  private long sequence;
  private boolean closed;
  private boolean poolEmpty;
  private long regimeSinceNanos = Long.MIN_VALUE;

  private FlowController(Builder builder) {
    this.config = builder.config;
    this.pool = Objects.requireNonNull(builder.pool, "saturationSource");
    this.usageLimit = config.usageLimit() != null
        ? config.usageLimit()
        : new StaticUsageLimit(StaticUsageLimit.TYPE, Parameters.empty());
    this.defaultFairness = new GlobalStrictFairness(GlobalStrictFairness.TYPE);
    this.defaultOrdering = new FcfsOrdering(FcfsOrdering.TYPE);
    this.ticker = builder.ticker;
    this.metrics = builder.metrics;
    this.defaultTtlNanos = nanos(config.defaultRequestTTL());
    this.noEndpointTtlNanos = nanos(config.noEndpointRequestTTL());
    long now = ticker.nanos();
    for (FlowControlConfig.Band band : config.priorityBands()) {
      addBand(band, false, now);
    }
    if (!bands.containsKey(0)) {
      addBand(config.defaultPriorityBand().at(0), false, now);
    }
    ScheduledExecutorService scheduler = Objects.requireNonNull(builder.scheduler, "scheduler");
    long interval = config.expiryCleanupInterval().toNanos();
    this.sweeper = scheduler.scheduleWithFixedDelay(() -> {
      try {
        sweep();
      } catch (RuntimeException e) {
        log.error("flow control: expiry sweep failed; retrying in {}", config.expiryCleanupInterval(), e);
      }
    }, interval, interval, TimeUnit.NANOSECONDS);
  }

  /** A builder; {@link Builder#saturationSource} and {@link Builder#scheduler} are required. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Queues {@code request}, or rejects it at once if the controller is closed or a limit is reached; then runs
   * dispatch. Never waits for the outcome.
   */
  public Ticket enqueue(FlowRequest request) {
    FlowKey key = request.key();
    long now = ticker.nanos();
    long ttl = request.ttl() == null ? defaultTtlNanos : nanos(request.ttl());
    Outcome.Kind rejection = null;
    Item item;
    lock.lock();
    try {
      item = new Item(this, request, now, ttl, sequence++);
      if (closed) {
        rejection = Outcome.Kind.SHUTTING_DOWN;
      } else {
        BandQueue band = band(key.priority(), now);
        long size = request.bytes();
        if (exceeds(requests + 1, config.maxRequests()) || exceeds(bytes + size, config.maxBytes())
            || band.requests + 1 > band.maxRequests || band.bytes + size > band.maxBytes) {
          rejection = poolEmpty ? Outcome.Kind.REJECTED_NO_ENDPOINTS : Outcome.Kind.REJECTED_CAPACITY;
        } else {
          Flow flow = band.flows.get(key.fairnessId());
          if (flow == null) {
            flow = new Flow(key.fairnessId(), band.ordering, now);
            band.flows.put(key.fairnessId(), flow);
          }
          flow.add(item);
          band.requests++;
          band.bytes += size;
          requests++;
          bytes += size;
          recordQueued(band, request, 1, size);
        }
      }
    } finally {
      lock.unlock();
    }
    if (rejection != null) {
      complete(item, rejection, now);
    } else {
      signal();
    }
    return item;
  }

  /**
   * Runs dispatch cycles until one dispatches nothing; call it when saturation may have fallen (metrics refreshed, a
   * request finished). Cheap and coalesced: if another thread is dispatching, it runs the cycle instead and this call
   * returns at once. Returns at once when nothing is queued.
   */
  public void signal() {
    if (requests == 0) {
      return; // nothing queued; enqueue signals after queueing
    }
    dispatchPending.set(true);
    while (dispatchPending.get() && lock.tryLock()) {
      Item dispatched;
      try {
        dispatchPending.set(false);
        dispatched = closed ? null : dispatchOne();
      } finally {
        lock.unlock();
      }
      if (dispatched != null) {
        complete(dispatched, Outcome.Kind.DISPATCHED, ticker.nanos());
        dispatchPending.set(true);
      }
    }
  }

  /** Rejects every queued request with {@code SHUTTING_DOWN}; later enqueues are rejected at once. Idempotent. */
  @Override
  public void close() {
    sweeper.cancel(false);
    List<Item> evicted = new ArrayList<>();
    lock.lock();
    try {
      closed = true;
      long now = ticker.nanos();
      for (BandQueue band : bandOrder) {
        for (Flow flow : band.flows.values()) {
          flow.forEach(evicted::add);
        }
      }
      for (Item item : evicted) {
        dequeue(item, now);
      }
    } finally {
      lock.unlock();
    }
    long now = ticker.nanos();
    for (Item item : evicted) {
      complete(item, Outcome.Kind.SHUTTING_DOWN, now);
    }
  }

  /** How many requests are queued. */
  public long queuedRequests() {
    lock.lock();
    try {
      return requests;
    } finally {
      lock.unlock();
    }
  }

  /** How many flows (empty ones not yet collected included) the controller holds. */
  int flowCount() {
    lock.lock();
    try {
      int count = 0;
      for (BandQueue band : bandOrder) {
        count += band.flows.size();
      }
      return count;
    } finally {
      lock.unlock();
    }
  }

  /** How many bands (configured ones and those created from a template and not yet collected) exist. */
  int bandCount() {
    lock.lock();
    try {
      return bandOrder.length;
    } finally {
      lock.unlock();
    }
  }

  /** Evicts expired requests, collects idle flows and bands, then dispatches; runs every expiryCleanupInterval. */
  void sweep() {
    List<Item> expired = new ArrayList<>();
    Outcome.Kind kind;
    long now = ticker.nanos();
    lock.lock();
    try {
      if (closed) {
        return;
      }
      observePool(now);
      kind = poolEmpty ? Outcome.Kind.EVICTED_NO_ENDPOINTS : Outcome.Kind.EVICTED_TTL;
      long chargeFrom = regimeSinceNanos;
      for (BandQueue band : bandOrder) {
        for (Flow flow : band.flows.values()) {
          flow.forEach(item -> {
            long ttl = poolEmpty ? noEndpointTtlNanos : item.ttlNanos;
            if (ttl > 0 && now - Math.max(item.enqueueNanos, chargeFrom) >= ttl) {
              expired.add(item);
            }
          });
        }
      }
      for (Item item : expired) {
        dequeue(item, now);
      }
      collectIdle(now);
    } finally {
      lock.unlock();
    }
    for (Item item : expired) {
      complete(item, kind, now);
    }
    signal();
  }

  void cancel(Item item) {
    long now = ticker.nanos();
    lock.lock();
    try {
      if (item.flow == null) {
        return;
      }
      dequeue(item, now);
    } finally {
      lock.unlock();
    }
    complete(item, Outcome.Kind.CANCELLED, now);
  }

  /**
   * One dispatch cycle under the lock: the dispatched item, or {@code null} if nothing may or can go. A saturation
   * source or policy that throws stops the cycle (fail closed) and is logged; the requests stay queued until a later
   * cycle or their TTL.
   */
  private Item dispatchOne() {
    if (requests == 0) {
      return null;
    }
    long now = ticker.nanos();
    try {
      observePool(now);
      double saturation = pool.saturation();
      metrics.recordFlowControlSaturation(saturation);
      Arrays.fill(ceilings, 1.0);
      usageLimit.computeLimits(saturation, priorities, ceilings);
      for (int i = 0; i < bandOrder.length; i++) {
        if (saturation >= ceilings[i]) {
          return null; // head-of-line blocking: no lower band overtakes this one
        }
        BandQueue band = bandOrder[i];
        if (band.requests == 0) {
          continue;
        }
        FlowQueue picked = band.fairness.pick(band, band.fairnessState);
        Item item = picked == null ? null : ((Flow) picked).head();
        if (item != null) {
          dequeue(item, now);
          return item;
        }
      }
    } catch (RuntimeException e) {
      log.error("flow control: dispatch cycle failed; requests stay queued", e);
    }
    return null;
  }

  private void observePool(long now) {
    boolean empty = !pool.hasEndpoints();
    if (empty != poolEmpty) {
      poolEmpty = empty;
      regimeSinceNanos = now;
    }
  }

  private void dequeue(Item item, long now) {
    Flow flow = item.flow;
    BandQueue band = bands.get(item.request.key().priority());
    flow.remove(item, now);
    long size = item.request.bytes();
    band.requests--;
    band.bytes -= size;
    requests--;
    bytes -= size;
    if (band.requests == 0) {
      band.idleSinceNanos = now;
    }
    recordQueued(band, item.request, -1, -size);
  }

  private void recordQueued(BandQueue band, FlowRequest request, int requests, long size) {
    FlowKey key = request.key();
    metrics.recordFlowControlQueued(key.fairnessId(), key.priority(), request.modelName(), request.targetModelName(),
        requests, size);
    metrics.recordFlowControlCapacity(band.priority, (double) band.requests / band.maxRequests,
        (double) band.bytes / band.maxBytes);
  }

  private void complete(Item item, Outcome.Kind kind, long now) {
    long queued = now - item.enqueueNanos;
    if (item.outcome.complete(new Outcome(kind, queued))) {
      FlowKey key = item.request.key();
      metrics.recordFlowControlOutcome(key.fairnessId(), key.priority(), item.request.modelName(),
          item.request.targetModelName(), kind.label(), queued);
    }
  }

  private void collectIdle(long now) {
    long flowTimeout = config.flowGcTimeout().toNanos();
    long bandTimeout = config.priorityBandGcTimeout().toNanos();
    boolean bandsChanged = false;
    for (Iterator<Map.Entry<Integer, BandQueue>> bandIt = bands.entrySet().iterator(); bandIt.hasNext(); ) {
      BandQueue band = bandIt.next().getValue();
      band.flows.values().removeIf(flow -> flow.size() == 0 && now - flow.idleSinceNanos >= flowTimeout);
      if (band.fromTemplate && band.requests == 0 && band.flows.isEmpty()
          && now - band.idleSinceNanos >= bandTimeout) {
        bandIt.remove();
        bandsChanged = true;
      }
    }
    if (bandsChanged) {
      reorderBands();
    }
  }

  /** The band for {@code priority}, created from the matching template if none is configured. */
  private BandQueue band(int priority, long now) {
    BandQueue band = bands.get(priority);
    if (band == null) {
      FlowControlConfig.Band template = priority < 0 && config.defaultNegativePriorityBand() != null
          ? config.defaultNegativePriorityBand()
          : config.defaultPriorityBand();
      band = addBand(template.at(priority), true, now);
    }
    return band;
  }

  private BandQueue addBand(FlowControlConfig.Band config, boolean fromTemplate, long now) {
    FairnessPolicy fairness = config.fairness() != null ? config.fairness() : defaultFairness;
    OrderingPolicy ordering = config.ordering() != null ? config.ordering() : defaultOrdering;
    BandQueue band = new BandQueue(config, fairness, ordering, fromTemplate, now);
    bands.put(band.priority, band);
    reorderBands();
    return band;
  }

  private void reorderBands() {
    bandOrder = bands.values().toArray(new BandQueue[0]);
    priorities = new int[bandOrder.length];
    for (int i = 0; i < bandOrder.length; i++) {
      priorities[i] = bandOrder[i].priority;
    }
    ceilings = new double[bandOrder.length];
  }

  /** {@code duration} in nanoseconds, {@link Long#MAX_VALUE} for any longer than that (about 292 years). */
  private static long nanos(Duration duration) {
    return duration.compareTo(Duration.ofNanos(Long.MAX_VALUE)) >= 0 ? Long.MAX_VALUE : duration.toNanos();
  }

  private static boolean exceeds(long value, long limit) {
    return limit > 0 && value > limit;
  }

  /** Configures a {@link FlowController}. */
  public static final class Builder {
    private FlowControlConfig config = FlowControlConfig.defaults();
    private SaturationSource pool;
    private Ticker ticker = Ticker.system();
    private ScheduledExecutorService scheduler;
    private MetricsRecorder metrics = MetricsRecorder.noop();

    private Builder() {}

    /** The settings; default {@link FlowControlConfig#defaults()}. */
    public Builder config(FlowControlConfig config) {
      this.config = Objects.requireNonNull(config, "config");
      return this;
    }

    /** Where saturation and pool emptiness come from (the configured saturation detector over the pool). */
    public Builder saturationSource(SaturationSource pool) {
      this.pool = pool;
      return this;
    }

    /** The time source for enqueue times, TTLs and idle timeouts; default {@link Ticker#system()}. */
    public Builder ticker(Ticker ticker) {
      this.ticker = Objects.requireNonNull(ticker, "ticker");
      return this;
    }

    /** Runs the expiry sweep every {@code expiryCleanupInterval}. */
    public Builder scheduler(ScheduledExecutorService scheduler) {
      this.scheduler = scheduler;
      return this;
    }

    /** Where queue sizes and outcomes are recorded; default no-op. */
    public Builder metrics(MetricsRecorder metrics) {
      this.metrics = Objects.requireNonNull(metrics, "metrics");
      return this;
    }

    /** @throws NullPointerException if the saturation source or the scheduler is missing */
    public FlowController build() {
      return new FlowController(this);
    }
  }
}
