package dev.epp.api;

import java.time.Duration;
import java.util.Objects;
import java.util.Set;

/**
 * A snapshot of one endpoint's model-server metrics, replaced wholesale by the scraper.
 *
 * @param waitingQueueSize requests waiting in the model server's queue
 * @param runningRequests requests being processed
 * @param kvCacheUsage KV-cache utilisation in [0, 1]
 * @param activeModels LoRA adapters loaded and running; unmodifiable
 * @param waitingModels LoRA adapters requested but waiting to be loaded; unmodifiable
 * @param maxActiveModels how many LoRA adapters the server can hold at once (0 = unknown)
 * @param cacheBlockSize tokens per KV-cache block (0 = unknown)
 * @param cacheNumBlocks KV-cache blocks the server has (0 = unknown)
 * @param updatedNanos {@link Ticker} time of the scrape that produced these values, or {@link #NEVER}
 */
public record EndpointMetrics(
    int waitingQueueSize,
    int runningRequests,
    double kvCacheUsage,
    Set<String> activeModels,
    Set<String> waitingModels,
    int maxActiveModels,
    int cacheBlockSize,
    int cacheNumBlocks,
    long updatedNanos) {

  /** {@link #updatedNanos()} of metrics that were never scraped. */
  public static final long NEVER = Long.MIN_VALUE;

  /**
   * Default age beyond which metrics are stale and their endpoint counts as not ready (the Go EPP's
   * {@code --metrics-staleness-threshold}).
   */
  public static final Duration DEFAULT_STALENESS_THRESHOLD = Duration.ofSeconds(2);

  private static final EndpointMetrics NONE = builder().build();

  /** Validates and copies the components. */
  public EndpointMetrics {
    if (waitingQueueSize < 0 || runningRequests < 0 || maxActiveModels < 0 || cacheBlockSize < 0
        || cacheNumBlocks < 0) {
      throw new IllegalArgumentException("endpoint metric counts must not be negative");
    }
    if (!(kvCacheUsage >= 0 && kvCacheUsage <= 1)) {
      throw new IllegalArgumentException("kvCacheUsage " + kvCacheUsage + " is not in [0, 1]");
    }
    activeModels = Set.copyOf(activeModels);
    waitingModels = Set.copyOf(waitingModels);
  }

  /** Metrics of an endpoint that has not been scraped yet: all zero, never updated. */
  public static EndpointMetrics none() {
    return NONE;
  }

  /** A builder starting from {@link #none()}'s values. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder starting from these values. */
  public Builder toBuilder() {
    return new Builder()
        .waitingQueueSize(waitingQueueSize)
        .runningRequests(runningRequests)
        .kvCacheUsage(kvCacheUsage)
        .activeModels(activeModels)
        .waitingModels(waitingModels)
        .maxActiveModels(maxActiveModels)
        .cacheBlockSize(cacheBlockSize)
        .cacheNumBlocks(cacheNumBlocks)
        .updatedNanos(updatedNanos);
  }

  /**
   * Whether these metrics were scraped at most {@code maxAgeNanos} before {@code nowNanos}.
   *
   * @param nowNanos the current {@link Ticker} time
   */
  public boolean isFresh(long nowNanos, long maxAgeNanos) {
    return updatedNanos != NEVER && nowNanos - updatedNanos <= maxAgeNanos;
  }

  /** Builds {@link EndpointMetrics}. Not thread-safe. */
  public static final class Builder {
    private int waitingQueueSize;
    private int runningRequests;
    private double kvCacheUsage;
    private Set<String> activeModels = Set.of();
    private Set<String> waitingModels = Set.of();
    private int maxActiveModels;
    private int cacheBlockSize;
    private int cacheNumBlocks;
    private long updatedNanos = NEVER;

    private Builder() {}

    /** Sets {@link EndpointMetrics#waitingQueueSize()}. */
    public Builder waitingQueueSize(int value) {
      this.waitingQueueSize = value;
      return this;
    }

    /** Sets {@link EndpointMetrics#runningRequests()}. */
    public Builder runningRequests(int value) {
      this.runningRequests = value;
      return this;
    }

    /** Sets {@link EndpointMetrics#kvCacheUsage()}. */
    public Builder kvCacheUsage(double value) {
      this.kvCacheUsage = value;
      return this;
    }

    /** Sets {@link EndpointMetrics#activeModels()}. */
    public Builder activeModels(Set<String> value) {
      this.activeModels = Objects.requireNonNull(value);
      return this;
    }

    /** Sets {@link EndpointMetrics#waitingModels()}. */
    public Builder waitingModels(Set<String> value) {
      this.waitingModels = Objects.requireNonNull(value);
      return this;
    }

    /** Sets {@link EndpointMetrics#maxActiveModels()}. */
    public Builder maxActiveModels(int value) {
      this.maxActiveModels = value;
      return this;
    }

    /** Sets {@link EndpointMetrics#cacheBlockSize()}. */
    public Builder cacheBlockSize(int value) {
      this.cacheBlockSize = value;
      return this;
    }

    /** Sets {@link EndpointMetrics#cacheNumBlocks()}. */
    public Builder cacheNumBlocks(int value) {
      this.cacheNumBlocks = value;
      return this;
    }

    /** Sets {@link EndpointMetrics#updatedNanos()}. */
    public Builder updatedNanos(long value) {
      this.updatedNanos = value;
      return this;
    }

    /** Builds the snapshot. */
    public EndpointMetrics build() {
      return new EndpointMetrics(
          waitingQueueSize,
          runningRequests,
          kvCacheUsage,
          activeModels,
          waitingModels,
          maxActiveModels,
          cacheBlockSize,
          cacheNumBlocks,
          updatedNanos);
    }
  }
}
