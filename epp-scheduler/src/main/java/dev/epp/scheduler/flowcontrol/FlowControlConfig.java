package dev.epp.scheduler.flowcontrol;

import dev.epp.api.flowcontrol.FairnessPolicy;
import dev.epp.api.flowcontrol.OrderingPolicy;
import dev.epp.api.flowcontrol.UsageLimitPolicy;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * The {@code flowControl} settings, with llm-d's defaults ({@link #defaults()}).
 *
 * @param maxRequests the most requests queued over all bands; 0 for no limit (default)
 * @param maxBytes the most bytes queued over all bands; 0 for no limit (default)
 * @param defaultRequestTTL how long a request may wait while the pool has endpoints, unless it carries its own;
 *     {@link Duration#ZERO} to wait until cancelled (default 60s)
 * @param noEndpointRequestTTL how long a request may wait while the pool has no endpoints (default 60s; the config
 *     binding uses {@code defaultRequestTTL} when only that is set, as llm-d does); zero for no limit
 * @param defaultPriorityBand the template for a priority without a configured band (its {@code priority} is ignored)
 * @param defaultNegativePriorityBand the template for a negative priority without a configured band; {@code null}
 *     to use {@code defaultPriorityBand}
 * @param priorityBands the configured bands, distinct priorities; priority 0 gets one from the template if absent
 * @param expiryCleanupInterval how often queued requests are checked for expiry (default 1s)
 * @param flowGcTimeout how long an empty flow is kept (default 5m)
 * @param priorityBandGcTimeout how long an empty band created from a template is kept (default 10m)
 * @param usageLimit the policy setting each band's saturation ceiling; {@code null} for
 *     {@code static-usage-limit-policy} with threshold 1.0 (default)
 */
public record FlowControlConfig(
    long maxRequests,
    long maxBytes,
    Duration defaultRequestTTL,
    Duration noEndpointRequestTTL,
    Band defaultPriorityBand,
    Band defaultNegativePriorityBand,
    List<Band> priorityBands,
    Duration expiryCleanupInterval,
    Duration flowGcTimeout,
    Duration priorityBandGcTimeout,
    UsageLimitPolicy usageLimit) {

  /** llm-d's per-band request limit when a band sets none. */
  public static final long DEFAULT_BAND_MAX_REQUESTS = 5000;

  /** llm-d's per-band byte limit when a band sets none (1 GB). */
  public static final long DEFAULT_BAND_MAX_BYTES = 1_000_000_000L;

  /** @throws IllegalArgumentException if a limit or duration is negative, or two bands share a priority */
  public FlowControlConfig {
    requireNotNegative(maxRequests, "maxRequests");
    requireNotNegative(maxBytes, "maxBytes");
    requireNotNegative(defaultRequestTTL, "defaultRequestTTL");
    requireNotNegative(noEndpointRequestTTL, "noEndpointRequestTTL");
    Objects.requireNonNull(defaultPriorityBand, "defaultPriorityBand");
    priorityBands = List.copyOf(priorityBands);
    Set<Integer> seen = new HashSet<>();
    for (Band band : priorityBands) {
      if (!seen.add(band.priority())) {
        throw new IllegalArgumentException("duplicate priority band " + band.priority());
      }
    }
    requirePositive(expiryCleanupInterval, "expiryCleanupInterval");
    requirePositive(flowGcTimeout, "flowGcTimeout");
    requirePositive(priorityBandGcTimeout, "priorityBandGcTimeout");
  }

  /** llm-d's defaults: no global limits, 60s TTLs, one default band template with default limits and policies. */
  public static FlowControlConfig defaults() {
    return new FlowControlConfig(0, 0, Duration.ofSeconds(60), Duration.ofSeconds(60), Band.of(0), null, List.of(),
        Duration.ofSeconds(1), Duration.ofMinutes(5), Duration.ofMinutes(10), null);
  }

  /** This config with global limits {@code maxRequests} and {@code maxBytes} (0 for none). */
  public FlowControlConfig withGlobalLimits(long maxRequests, long maxBytes) {
    return new FlowControlConfig(maxRequests, maxBytes, defaultRequestTTL, noEndpointRequestTTL, defaultPriorityBand,
        defaultNegativePriorityBand, priorityBands, expiryCleanupInterval, flowGcTimeout, priorityBandGcTimeout,
        usageLimit);
  }

  /** This config with the given TTLs. */
  public FlowControlConfig withTtls(Duration defaultRequestTTL, Duration noEndpointRequestTTL) {
    return new FlowControlConfig(maxRequests, maxBytes, defaultRequestTTL, noEndpointRequestTTL, defaultPriorityBand,
        defaultNegativePriorityBand, priorityBands, expiryCleanupInterval, flowGcTimeout, priorityBandGcTimeout,
        usageLimit);
  }

  /** This config with the given band templates ({@code negative} may be {@code null}) and configured bands. */
  public FlowControlConfig withBands(Band template, Band negative, List<Band> bands) {
    return new FlowControlConfig(maxRequests, maxBytes, defaultRequestTTL, noEndpointRequestTTL, template, negative,
        bands, expiryCleanupInterval, flowGcTimeout, priorityBandGcTimeout, usageLimit);
  }

  /** This config with {@code usageLimit} ({@code null} for the default policy). */
  public FlowControlConfig withUsageLimit(UsageLimitPolicy usageLimit) {
    return new FlowControlConfig(maxRequests, maxBytes, defaultRequestTTL, noEndpointRequestTTL, defaultPriorityBand,
        defaultNegativePriorityBand, priorityBands, expiryCleanupInterval, flowGcTimeout, priorityBandGcTimeout,
        usageLimit);
  }

  /** This config with the given sweep interval and idle timeouts. */
  public FlowControlConfig withIntervals(Duration expiryCleanupInterval, Duration flowGcTimeout,
      Duration priorityBandGcTimeout) {
    return new FlowControlConfig(maxRequests, maxBytes, defaultRequestTTL, noEndpointRequestTTL, defaultPriorityBand,
        defaultNegativePriorityBand, priorityBands, expiryCleanupInterval, flowGcTimeout, priorityBandGcTimeout,
        usageLimit);
  }

  /**
   * One priority band's settings.
   *
   * @param priority the band's priority; higher dispatches first
   * @param maxRequests the most requests queued in the band; 0 for {@value #DEFAULT_BAND_MAX_REQUESTS}
   * @param maxBytes the most bytes queued in the band; 0 for 1 GB
   * @param fairness the policy choosing between the band's flows; {@code null} for
   *     {@code global-strict-fairness-policy}
   * @param ordering the policy ordering each flow's requests; {@code null} for {@code fcfs-ordering-policy}
   */
  public record Band(int priority, long maxRequests, long maxBytes, FairnessPolicy fairness, OrderingPolicy ordering) {

    /** @throws IllegalArgumentException if a limit is negative */
    public Band {
      requireNotNegative(maxRequests, "maxRequests");
      requireNotNegative(maxBytes, "maxBytes");
    }

    /** A band at {@code priority} with default limits and policies. */
    public static Band of(int priority) {
      return new Band(priority, 0, 0, null, null);
    }

    /** The request limit in force. */
    public long effectiveMaxRequests() {
      return maxRequests == 0 ? DEFAULT_BAND_MAX_REQUESTS : maxRequests;
    }

    /** The byte limit in force. */
    public long effectiveMaxBytes() {
      return maxBytes == 0 ? DEFAULT_BAND_MAX_BYTES : maxBytes;
    }

    /** This band's settings at another priority (a template applied to an unconfigured priority). */
    Band at(int newPriority) {
      return new Band(newPriority, maxRequests, maxBytes, fairness, ordering);
    }
  }

  private static void requireNotNegative(long value, String name) {
    if (value < 0) {
      throw new IllegalArgumentException(name + " must not be negative, got " + value);
    }
  }

  private static void requireNotNegative(Duration value, String name) {
    if (value.isNegative()) {
      throw new IllegalArgumentException(name + " must not be negative, got " + value);
    }
  }

  private static void requirePositive(Duration value, String name) {
    if (value.isNegative() || value.isZero()) {
      throw new IllegalArgumentException(name + " must be positive, got " + value);
    }
  }
}
