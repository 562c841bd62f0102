package dev.epp.scheduler.plugins.prefix;

import dev.epp.api.ConfigDialect;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;

/**
 * The parameters shared by {@code approx-prefix-cache-producer} and {@code prefix-cache-scorer}, with the Go EPP
 * v1.5 names. The defaults are the configuration's {@link ConfigDialect}'s: {@code maxPrefixBlocksToMatch} 2048 and
 * {@code maxPrefixTokensToMatch} 131072 under llm-d, 256 and 0 under GIE v1.5; the others are the same under both.
 *
 * @param autoTune take the block size from the first candidate's {@link EndpointMetrics#cacheBlockSize()} and each
 *     server's index capacity from its {@link EndpointMetrics#cacheNumBlocks()}, when scraped
 * @param blockSizeTokens tokens per block (4 characters per token) when not auto-tuned
 * @param maxPrefixBlocksToMatch the most blocks hashed and matched per request
 * @param maxPrefixTokensToMatch when above 0, replaces the block limit by {@code maxPrefixTokensToMatch / blockSize}
 * @param lruCapacityPerServer block hashes remembered per server when its {@code cacheNumBlocks} is not used
 */
record PrefixCacheConfig(
    boolean autoTune,
    int blockSizeTokens,
    int maxPrefixBlocksToMatch,
    int maxPrefixTokensToMatch,
    int lruCapacityPerServer) {

  /** Characters per token, the unit conversion the Go EPP uses in place of a tokenizer. */
  static final int CHARS_PER_TOKEN = 4;

  static final String AUTO_TUNE = "autoTune";
  static final String BLOCK_SIZE_TOKENS = "blockSizeTokens";
  static final String BLOCK_SIZE = "blockSize";
  static final String MAX_PREFIX_BLOCKS_TO_MATCH = "maxPrefixBlocksToMatch";
  static final String MAX_PREFIX_TOKENS_TO_MATCH = "maxPrefixTokensToMatch";
  static final String LRU_CAPACITY_PER_SERVER = "lruCapacityPerServer";

  /**
   * Reads and validates the parameters, as Go's {@code newPrepareData}: the legacy character-based
   * {@code blockSize} without a positive {@code blockSizeTokens} is rejected with a migration message;
   * {@code blockSizeTokens} must be above 0 unless {@code autoTune}; {@code maxPrefixTokensToMatch} must not be
   * negative. Unlike Go, {@code maxPrefixBlocksToMatch} and {@code lruCapacityPerServer} must be above 0 too, and
   * {@code blockSize} given alone is an error (Go silently ignores it because its default {@code blockSizeTokens}
   * applies).
   *
   * @param dialect whose defaults apply to parameters left out
   * @throws PluginConfigException naming the offending parameter
   */
  static PrefixCacheConfig parse(Parameters parameters, ConfigDialect dialect) {
    boolean llmd = dialect == ConfigDialect.LLM_D;
    boolean autoTune = parameters.getBoolean(AUTO_TUNE, true);
    boolean tokensGiven = parameters.contains(BLOCK_SIZE_TOKENS);
    int blockSizeTokens = parameters.getInt(BLOCK_SIZE_TOKENS, 16);
    int legacyBlockSize = parameters.getInt(BLOCK_SIZE, 0);
    if (legacyBlockSize > 0 && (!tokensGiven || blockSizeTokens <= 0)) {
      throw parameters.invalid(BLOCK_SIZE, "(" + legacyBlockSize + " characters) is deprecated; use "
          + BLOCK_SIZE_TOKENS + " to set the cache block size in tokens (e.g. " + BLOCK_SIZE_TOKENS + ": "
          + Math.max(1, legacyBlockSize / CHARS_PER_TOKEN) + ")");
    }
    if (!autoTune && blockSizeTokens <= 0) {
      throw parameters.invalid(BLOCK_SIZE_TOKENS,
          "must be greater than 0 when autoTune is false, got " + blockSizeTokens);
    }
    int maxBlocks = parameters.getInt(MAX_PREFIX_BLOCKS_TO_MATCH, llmd ? 2048 : 256);
    if (maxBlocks <= 0) {
      throw parameters.invalid(MAX_PREFIX_BLOCKS_TO_MATCH, "must be greater than 0, got " + maxBlocks);
    }
    int maxTokens = parameters.getInt(MAX_PREFIX_TOKENS_TO_MATCH, llmd ? 131_072 : 0);
    if (maxTokens < 0) {
      throw parameters.invalid(MAX_PREFIX_TOKENS_TO_MATCH, "must be at least 0, got " + maxTokens);
    }
    int capacity = parameters.getInt(LRU_CAPACITY_PER_SERVER, 31_250);
    if (capacity <= 0) {
      throw parameters.invalid(LRU_CAPACITY_PER_SERVER, "must be greater than 0, got " + capacity);
    }
    return new PrefixCacheConfig(autoTune, blockSizeTokens, maxBlocks, maxTokens, capacity);
  }

  /**
   * The block size in tokens for a request: with {@link #autoTune()} the first candidate's scraped
   * {@code cacheBlockSize} when above 0, else {@link #blockSizeTokens()}.
   *
   * @param firstCandidate the metrics of the request's first candidate, or {@code null} if there is none
   */
  int blockSizeTokens(EndpointMetrics firstCandidate) {
    if (autoTune && firstCandidate != null && firstCandidate.cacheBlockSize() > 0) {
      return firstCandidate.cacheBlockSize();
    }
    return blockSizeTokens;
  }

  /** The most blocks to hash for block size {@code tokens}: {@code maxPrefixTokensToMatch / tokens} when set. */
  int maxBlocks(int tokens) {
    return maxPrefixTokensToMatch > 0 && tokens > 0 ? maxPrefixTokensToMatch / tokens : maxPrefixBlocksToMatch;
  }

  /** A server's index capacity: its scraped {@code cacheNumBlocks} with {@link #autoTune()}, else the setting. */
  int capacity(EndpointMetrics metrics) {
    return autoTune && metrics.cacheNumBlocks() > 0 ? metrics.cacheNumBlocks() : lruCapacityPerServer;
  }
}
