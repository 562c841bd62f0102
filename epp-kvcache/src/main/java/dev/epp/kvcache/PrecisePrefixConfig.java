package dev.epp.kvcache;

import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.kvcache.index.BlockKeys;
import dev.epp.kvcache.index.KvBlockIndex;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The parameters of {@link PrecisePrefixCacheProducer}, validated; names, nesting and defaults are llm-d's.
 *
 * @param index the index, sized and weighted as configured
 * @param enableMetrics whether the index's counters are exported
 */
record PrecisePrefixConfig(KvBlockIndex index, boolean enableMetrics, int socketPort, String topicFilter, int concurrency,
    int replaySocketPort, boolean speculativeIndexing, Duration speculativeTtl) {

  static final int DEFAULT_BLOCK_SIZE = 16;
  static final int DEFAULT_SOCKET_PORT = 5557;
  static final String DEFAULT_TOPIC_FILTER = "kv@";
  static final int DEFAULT_CONCURRENCY = 4;
  static final Duration DEFAULT_SPECULATIVE_TTL = Duration.ofSeconds(2);

  /** @throws PluginConfigException naming the parameter that is invalid */
  static PrecisePrefixConfig parse(Parameters parameters) {
    Parameters tokens = parameters.getParameters("tokenProcessorConfig");
    int blockSize = tokens.getInt("blockSizeTokens", 0);
    String blockSizeKey = "blockSizeTokens";
    if (blockSize == 0 && tokens.contains("blockSize")) {
      blockSize = tokens.getInt("blockSize", 0);
      blockSizeKey = "blockSize";
    } else {
      tokens.getInt("blockSize", 0);
    }
    if (blockSize == 0 && !tokens.contains(blockSizeKey)) {
      blockSize = DEFAULT_BLOCK_SIZE;
    }
    if (blockSize <= 0) {
      throw tokens.invalid(blockSizeKey, "must be greater than 0, got " + blockSize);
    }
    String algorithm = tokens.getString("hashAlgorithm", "");
    if (!algorithm.isEmpty() && !algorithm.equals("cbor-fnv")) {
      throw tokens.invalid("hashAlgorithm", "must be cbor-fnv (the only one supported), got '" + algorithm + "'");
    }
    BlockKeys blockKeys = new BlockKeys(blockSize, tokens.getString("hashSeed", ""));

    Parameters indexer = parameters.getParameters("indexerConfig");
    Parameters kvBlockIndex = indexer.getParameters("kvBlockIndexConfig");
    for (String unsupported : List.of("redisConfig", "costAwareMemoryConfig")) {
      if (kvBlockIndex.contains(unsupported)) {
        throw kvBlockIndex.invalid(unsupported, "is not supported: only inMemoryConfig is");
      }
    }
    boolean enableMetrics = kvBlockIndex.getBoolean("enableMetrics", false);
    Parameters inMemory = kvBlockIndex.getParameters("inMemoryConfig");
    int size = positive(inMemory, "size", KvBlockIndex.DEFAULT_SIZE);
    int podCacheSize = positive(inMemory, "podCacheSize", KvBlockIndex.DEFAULT_POD_CACHE_SIZE);
    Map<String, Double> weights = KvBlockIndex.defaultWeights();
    List<Parameters> backends = indexer.getParametersList("kvCacheBackendConfigs");
    if (!backends.isEmpty()) {
      weights = new LinkedHashMap<>();
      for (Parameters backend : backends) {
        String name = backend.getString("name", "");
        if (name.isEmpty()) {
          throw backend.invalid("name", "must not be empty");
        }
        double weight = backend.getDouble("weight", 1.0);
        if (!(weight > 0)) {
          throw backend.invalid("weight", "must be above 0, got " + weight);
        }
        weights.put(name, weight);
      }
    }

    Parameters events = parameters.getParameters("kvEventsConfig");
    int socketPort = port(events, "socketPort", DEFAULT_SOCKET_PORT, 1);
    String topicFilter = events.getString("topicFilter", DEFAULT_TOPIC_FILTER);
    int concurrency = positive(events, "concurrency", DEFAULT_CONCURRENCY);
    if (!events.getBoolean("discoverPods", true)) {
      throw events.invalid("discoverPods", "must be true: subscribing to one global endpoint is not supported");
    }
    int replaySocketPort = port(events, "replaySocketPort", 0, 0);
    String engine = events.getString("engineType", "vllm");
    if (!engine.equals("vllm")) {
      throw events.invalid("engineType", "must be vllm (the only engine supported), got '" + engine + "'");
    }

    boolean speculative = parameters.getBoolean("speculativeIndexing", false);
    Duration ttl = parameters.getDuration("speculativeTTL", DEFAULT_SPECULATIVE_TTL);
    if (ttl.isNegative() || ttl.isZero()) {
      throw parameters.invalid("speculativeTTL", "must be above 0, got " + ttl);
    }
    return new PrecisePrefixConfig(new KvBlockIndex(blockKeys, size, podCacheSize, weights), enableMetrics, socketPort,
        topicFilter, concurrency, replaySocketPort, speculative, ttl);
  }

  private static int positive(Parameters parameters, String key, int defaultValue) {
    int value = parameters.getInt(key, defaultValue);
    if (value <= 0) {
      throw parameters.invalid(key, "must be above 0, got " + value);
    }
    return value;
  }

  private static int port(Parameters parameters, String key, int defaultValue, int min) {
    int value = parameters.getInt(key, defaultValue);
    if (value < min || value > 65535) {
      throw parameters.invalid(key, "must be a port between " + min + " and 65535, got " + value);
    }
    return value;
  }
}
