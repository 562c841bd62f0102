package dev.epp.kvcache.events;

import java.util.List;

/**
 * One change to a model server's KV cache, as vLLM publishes it. Engine block hashes identify blocks only between
 * events of the same server; the EPP derives its own block keys from the token ids.
 *
 * <p><b>Threading:</b> immutable once published to a {@link KvEventSink} (arrays are owned by the event and not
 * modified after decoding).
 */
public sealed interface KvEvent {

  /** The device tier vLLM reports when an event names none. */
  String DEFAULT_MEDIUM = "gpu";

  /**
   * Blocks newly stored, in prompt order: block {@code i} holds tokens {@code [i * blockSize, (i + 1) * blockSize)} of
   * {@code tokenIds}.
   *
   * @param engineBlockHashes the engine's hashes of the stored blocks, one per block
   * @param parentEngineBlockHash the engine's hash of the block preceding the first one, if {@code hasParent}
   * @param hasParent whether the first block continues a block stored earlier
   * @param tokenIds the tokens of all stored blocks, concatenated
   * @param blockSize tokens per block
   * @param loraName the adapter the blocks were computed with, or {@code null} for the base model
   * @param medium the device tier ({@code gpu}, {@code cpu}, ...), lower case
   * @param extraKeys per-block extra hash inputs (multimodal hashes, cache salt), or an empty list
   */
  record BlockStored(long[] engineBlockHashes, long parentEngineBlockHash, boolean hasParent, int[] tokenIds,
      int blockSize, String loraName, String medium, List<List<Object>> extraKeys) implements KvEvent {}

  /**
   * Blocks evicted from {@code medium}.
   *
   * @param engineBlockHashes the engine's hashes of the removed blocks
   * @param medium the device tier, lower case
   */
  record BlockRemoved(long[] engineBlockHashes, String medium) implements KvEvent {}

  /** Every block of the server was dropped (e.g. a cache reset). */
  record AllBlocksCleared() implements KvEvent {}
}
