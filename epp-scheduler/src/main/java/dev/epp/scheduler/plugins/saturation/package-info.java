/**
 * Saturation detection: type {@code utilization-detector}, the default detector, which judges pool load from scraped
 * queue depth and KV-cache utilisation, and {@code concurrency-detector}, which judges it from the requests or tokens
 * the EPP has in flight ({@code inflight-load-producer}); both can also filter out overloaded endpoints. The
 * {@code probabilistic-admitter} sheds sheddable requests with a probability rising with the pool's saturation.
 *
 * <p>Their filters allocate nothing per candidate.
 */
package dev.epp.scheduler.plugins.saturation;
