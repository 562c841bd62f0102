/**
 * Load scorers: prefer the candidates whose scraped metrics show the least load. Types
 * {@code queue-scorer} (waiting queue), {@code running-requests-size-scorer} (running requests) and
 * {@code kv-cache-utilization-scorer} (KV-cache usage).
 *
 * <p>Scorers allocate nothing per candidate.
 */
package dev.epp.scheduler.plugins.load;
