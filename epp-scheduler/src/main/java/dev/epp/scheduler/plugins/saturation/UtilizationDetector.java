package dev.epp.scheduler.plugins.saturation;

import dev.epp.api.EndpointMetrics;
import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.Ticker;
import dev.epp.api.TypedName;
import dev.epp.api.requestcontrol.SaturationDetector;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.Filter;
import java.time.Duration;
import java.util.BitSet;

/**
 * The default saturation detector, judging load from scraped queue depth and KV-cache utilisation; also usable as a
 * filter in a profile.
 *
 * <p><b>Saturation:</b> 1.0 for no candidates; otherwise the mean over candidates of
 * {@code max(waitingQueueSize / queueDepthThreshold, kvCacheUsage / kvCacheUtilThreshold)}, where a candidate whose
 * metrics are stale (older than {@code metricsStalenessThreshold}, or never scraped) counts as 1.0.
 *
 * <p><b>Filter:</b> keeps candidates with fresh metrics, {@code waitingQueueSize < queueDepthThreshold × (1 +
 * headroom)} and {@code kvCacheUsage < kvCacheUtilThreshold × (1 + headroom)}; if no candidate qualifies it keeps all
 * of them (fail open).
 *
 * <p>Parameters:
 *
 * <ul>
 *   <li>{@code queueDepthThreshold} (integer, default 5): must be greater than 0.
 *   <li>{@code kvCacheUtilThreshold} (number, default 0.8): in (0, 1].
 *   <li>{@code metricsStalenessThreshold} (Go duration string, default {@code "200ms"}): greater than 0.
 *   <li>{@code headroom} (number, default 0.0): at least 0; the filter's tolerance above the thresholds.
 * </ul>
 *
 * <p>Freshness is judged with the {@link Ticker} of the {@link PluginHandle}.
 */
public final class UtilizationDetector implements SaturationDetector, Filter {

  /** The plugin type. */
  public static final String TYPE = "utilization-detector";

  private static final String QUEUE_DEPTH_THRESHOLD = "queueDepthThreshold";
  private static final String KV_CACHE_UTIL_THRESHOLD = "kvCacheUtilThreshold";
  private static final String METRICS_STALENESS_THRESHOLD = "metricsStalenessThreshold";
  private static final String HEADROOM = "headroom";

  private final TypedName typedName;
  private final Ticker ticker;
  private final double queueDepthThreshold;
  private final double kvCacheUtilThreshold;
  private final long stalenessNanos;
  private final double queueLimit;
  private final double kvCacheLimit;

  /**
   * A detector named {@code name} configured by {@code parameters}.
   *
   * @param ticker the time source for metric freshness
   * @throws PluginConfigException if a parameter is invalid
   */
  public UtilizationDetector(String name, Parameters parameters, Ticker ticker) {
    this.typedName = new TypedName(TYPE, name);
    this.ticker = ticker;
    int queue = parameters.getInt(QUEUE_DEPTH_THRESHOLD, 5);
    if (queue <= 0) {
      throw parameters.invalid(QUEUE_DEPTH_THRESHOLD, "must be greater than 0, got " + queue);
    }
    double kv = parameters.getDouble(KV_CACHE_UTIL_THRESHOLD, 0.8);
    if (!(kv > 0 && kv <= 1)) {
      throw parameters.invalid(KV_CACHE_UTIL_THRESHOLD, "must be in (0, 1], got " + kv);
    }
    long staleness = stalenessNanos(parameters);
    double headroom = parameters.getDouble(HEADROOM, 0.0);
    if (headroom < 0) {
      throw parameters.invalid(HEADROOM, "must be at least 0, got " + headroom);
    }
    this.queueDepthThreshold = queue;
    this.kvCacheUtilThreshold = kv;
    this.stalenessNanos = staleness;
    this.queueLimit = queue * (1 + headroom);
    this.kvCacheLimit = kv * (1 + headroom);
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public double saturation(Candidates candidates) {
    int n = candidates.size();
    if (n == 0) {
      return 1.0;
    }
    long now = ticker.nanos();
    double sum = 0;
    for (int i = 0; i < n; i++) {
      EndpointMetrics m = candidates.metrics(i);
      sum += m.isFresh(now, stalenessNanos)
          ? Math.max(m.waitingQueueSize() / queueDepthThreshold, m.kvCacheUsage() / kvCacheUtilThreshold)
          : 1.0;
    }
    return sum / n;
  }

  @Override
  public void filter(RequestContext context, Candidates candidates, BitSet keep) {
    long now = ticker.nanos();
    int n = candidates.size();
    int first = 0;
    while (first < n && !hasCapacity(candidates.metrics(first), now)) {
      first++;
    }
    if (first == n) {
      return; // nothing qualifies: keep everything
    }
    keep.clear(0, first);
    for (int i = first + 1; i < n; i++) {
      if (!hasCapacity(candidates.metrics(i), now)) {
        keep.clear(i);
      }
    }
  }

  private boolean hasCapacity(EndpointMetrics m, long now) {
    return m.isFresh(now, stalenessNanos) && m.waitingQueueSize() < queueLimit && m.kvCacheUsage() < kvCacheLimit;
  }

  private static long stalenessNanos(Parameters parameters) {
    long nanos = parameters.getDuration(METRICS_STALENESS_THRESHOLD, Duration.ofMillis(200)).toNanos();
    if (nanos <= 0) {
      throw parameters.invalid(METRICS_STALENESS_THRESHOLD, "must be greater than 0");
    }
    return nanos;
  }

  /** Creates {@link UtilizationDetector}s that judge freshness with the handle's {@link Ticker}. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public UtilizationDetector create(PluginSpec spec, PluginHandle handle) {
      return new UtilizationDetector(spec.name(), spec.parameters(), handle.ticker());
    }
  }
}
