/**
 * Saturation detection: type {@code utilization-detector}, the default detector, which judges pool load from scraped
 * queue depth and KV-cache utilisation and can also filter out overloaded endpoints.
 *
 * <p>Its filter allocates nothing per candidate.
 */
package dev.epp.scheduler.plugins.saturation;
