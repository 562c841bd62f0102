/**
 * Load plugins. Scorers of scraped metrics: {@code queue-scorer} (waiting queue), {@code running-requests-size-scorer}
 * (running requests), {@code kv-cache-utilization-scorer} (KV-cache usage) and {@code load-aware-scorer} (waiting
 * queue against a fixed threshold). In-flight load the EPP counts itself: {@code inflight-load-producer}, read through
 * {@link dev.epp.scheduler.plugins.load.InFlightLoad} by {@code token-load-scorer} (in-flight tokens) and
 * {@code active-request-scorer} (in-flight requests). {@code utilization-filter} caps any of these signals.
 *
 * <p>Scorers allocate nothing per candidate.
 */
package dev.epp.scheduler.plugins.load;
