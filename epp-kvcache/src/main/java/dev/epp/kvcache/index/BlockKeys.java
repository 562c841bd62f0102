package dev.epp.kvcache.index;

import java.nio.charset.StandardCharsets;

/**
 * The block keys llm-d derives from token ids: tokens are cut into full blocks of {@code blockSize} (a trailing partial
 * block is dropped) and block {@code i}'s key is FNV-64a over the canonical CBOR encoding of
 * {@code [parentKey, [tokens of block i...], null]}, the parent of block 0 being the model's root key
 * {@code FNV-64a(CBOR([FNV-64a(hashSeed), null, modelName]))}.
 *
 * <p>The CBOR bytes are streamed into the hash: no buffer and no boxing per token. Blocks with extra keys
 * (multimodal hashes, cache salt) are not supported.
 *
 * <p><b>Threading:</b> immutable.
 */
public final class BlockKeys {

  private static final long FNV_OFFSET = 0xcbf29ce484222325L;
  private static final long FNV_PRIME = 0x100000001b3L;
  private static final int CBOR_NULL = 0xf6;
  private static final int CBOR_ARRAY_OF_3 = 0x83;
  private static final int MAJOR_UNSIGNED = 0;
  private static final int MAJOR_TEXT = 3;
  private static final int MAJOR_ARRAY = 4;

  private final int blockSize;
  private final long seedKey;

  /**
   * @param blockSize tokens per block, above 0
   * @param hashSeed the seed (llm-d's {@code hashSeed}; empty by default)
   */
  public BlockKeys(int blockSize, String hashSeed) {
    if (blockSize <= 0) {
      throw new IllegalArgumentException("blockSize must be greater than 0, got " + blockSize);
    }
    this.blockSize = blockSize;
    byte[] seed = hashSeed.getBytes(StandardCharsets.UTF_8);
    long hash = FNV_OFFSET;
    for (byte b : seed) {
      hash = mix(hash, b);
    }
    this.seedKey = hash;
  }

  /** Tokens per block. */
  public int blockSize() {
    return blockSize;
  }

  /** The number of full blocks {@code tokenCount} tokens make. */
  public int blockCount(int tokenCount) {
    return tokenCount / blockSize;
  }

  /** The parent key of a model's first block. */
  public long rootKey(String modelName) {
    byte[] name = modelName.getBytes(StandardCharsets.UTF_8);
    long hash = mix(FNV_OFFSET, CBOR_ARRAY_OF_3);
    hash = head(hash, MAJOR_UNSIGNED, seedKey);
    hash = mix(hash, CBOR_NULL);
    hash = head(hash, MAJOR_TEXT, name.length);
    for (byte b : name) {
      hash = mix(hash, b);
    }
    return hash;
  }

  /** The keys of the full blocks of {@code tokens}, chained from the model's root key. */
  public long[] keys(String modelName, int[] tokens) {
    return keys(rootKey(modelName), tokens, 0, tokens.length);
  }

  /**
   * The keys of the full blocks of {@code tokens[from, to)}, block 0 chained from {@code parentKey}.
   *
   * @return one key per full block; empty when there is none
   */
  public long[] keys(long parentKey, int[] tokens, int from, int to) {
    long[] keys = new long[(to - from) / blockSize];
    long parent = parentKey;
    for (int i = 0; i < keys.length; i++) {
      parent = blockKey(parent, tokens, from + i * blockSize);
      keys[i] = parent;
    }
    return keys;
  }

  private long blockKey(long parent, int[] tokens, int start) {
    long hash = mix(FNV_OFFSET, CBOR_ARRAY_OF_3);
    hash = head(hash, MAJOR_UNSIGNED, parent);
    hash = head(hash, MAJOR_ARRAY, blockSize);
    for (int i = start; i < start + blockSize; i++) {
      hash = head(hash, MAJOR_UNSIGNED, Integer.toUnsignedLong(tokens[i]));
    }
    return mix(hash, CBOR_NULL);
  }

  /** Hashes a CBOR head in its shortest form: major type and an unsigned 64-bit argument. */
  private static long head(long hash, int major, long value) {
    int type = major << 5;
    if (Long.compareUnsigned(value, 24) < 0) {
      return mix(hash, type | (int) value);
    }
    int bytes;
    int info;
    if (Long.compareUnsigned(value, 0xffL) <= 0) {
      bytes = 1;
      info = 24;
    } else if (Long.compareUnsigned(value, 0xffffL) <= 0) {
      bytes = 2;
      info = 25;
    } else if (Long.compareUnsigned(value, 0xffffffffL) <= 0) {
      bytes = 4;
      info = 26;
    } else {
      bytes = 8;
      info = 27;
    }
    hash = mix(hash, type | info);
    for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8) {
      hash = mix(hash, (int) (value >>> shift));
    }
    return hash;
  }

  private static long mix(long hash, int b) {
    return (hash ^ (b & 0xff)) * FNV_PRIME;
  }
}
