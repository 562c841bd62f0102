/**
 * The precise prefix-cache index: {@link dev.epp.kvcache.index.BlockKeys} (llm-d's block keys from token ids) and
 * {@link dev.epp.kvcache.index.KvBlockIndex} (which endpoints hold which blocks, from their KV-cache events).
 */
package dev.epp.kvcache.index;
