package dev.epp.scheduler.plugins.prefix;

import dev.epp.api.RequestContext;
import dev.epp.api.StateKey;

/**
 * The prefix-cache match of the endpoint a request was sent to, for the
 * {@code inference_extension_prefix_indexer_hit_ratio} and {@code _hit_bytes} histograms: stored by
 * {@link ApproxPrefixCacheProducer} in the {@link RequestContext} when the request is scheduled.
 *
 * @param matchedBlocks leading prompt blocks the primary target probably holds
 * @param totalBlocks blocks the prompt was split into; 0 when it was too short to hash
 * @param blockSizeTokens the block size in tokens used for the request
 */
public record PrefixCacheHit(int matchedBlocks, int totalBlocks, int blockSizeTokens) {

  /** Where the producer stores the hit. */
  public static final StateKey<PrefixCacheHit> KEY = StateKey.of("prefix-cache-hit", PrefixCacheHit.class);

  /** Estimated prompt characters served from cache: {@code matchedBlocks × blockSizeTokens × 4}, as in Go. */
  public long hitBytes() {
    return (long) matchedBlocks * blockSizeTokens * PrefixCacheConfig.CHARS_PER_TOKEN;
  }

  /** Estimated prompt characters that were matched against: {@code totalBlocks × blockSizeTokens × 4}. */
  public long totalBytes() {
    return (long) totalBlocks * blockSizeTokens * PrefixCacheConfig.CHARS_PER_TOKEN;
  }

  /** {@code matchedBlocks / totalBlocks}; NaN when there are no blocks (Go then records no ratio). */
  public double hitRatio() {
    return totalBlocks == 0 ? Double.NaN : (double) matchedBlocks / totalBlocks;
  }
}
