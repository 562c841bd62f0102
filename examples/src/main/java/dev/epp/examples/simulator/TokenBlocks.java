package dev.epp.examples.simulator;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A text as the simulated engine tokenizes it, and its full KV-cache blocks.
 *
 * <p><b>Tokens.</b> There is no real tokenizer: the text is cut into pieces of {@value SimulatedEngine#CHARS_PER_TOKEN}
 * characters (the last may be shorter), one token each, so a text has {@link SimulatedEngine#tokens} tokens (an empty
 * text is one empty piece). A token's id is a stable hash of its piece modulo {@value #VOCAB_SIZE} (Llama 3's
 * vocabulary size), so equal pieces get equal ids in every process.
 *
 * <p><b>Blocks.</b> The full blocks are the leading {@code blockSize} tokens of complete pieces: a text of {@code c}
 * characters has {@code c / (4 × blockSize)} of them (a trailing short piece never completes a block). Each has a
 * chained 64-bit hash over its token ids, seeded by the model name, so equal prefixes of the same model share blocks
 * and nothing else does.
 *
 * @param tokenIds the text's token ids, in order; not modified
 * @param hashes the chained hashes of the full blocks, in order; not modified
 * @param blockSize tokens per block
 * @param loraName the adapter the text is for, or {@code null} for the base model
 */
record TokenBlocks(int[] tokenIds, long[] hashes, int blockSize, String loraName) {

  /** Token ids are in {@code [0, VOCAB_SIZE)}. */
  static final int VOCAB_SIZE = 128_256;

  private static final long FNV_OFFSET = 0xcbf29ce484222325L;
  private static final long FNV_PRIME = 0x100000001b3L;

  /**
   * Tokenizes {@code text} for {@code model}.
   *
   * @param loraName the adapter {@code model} names, or {@code null} for the base model
   */
  static TokenBlocks of(String model, String loraName, String text, int blockSize) {
    int[] ids = tokenIds(text);
    long[] hashes = new long[text.length() / (blockSize * SimulatedEngine.CHARS_PER_TOKEN)];
    long previous = fnv(FNV_OFFSET, model.getBytes(StandardCharsets.UTF_8));
    for (int block = 0; block < hashes.length; block++) {
      long hash = previous;
      for (int i = block * blockSize; i < (block + 1) * blockSize; i++) {
        int id = ids[i];
        for (int shift = 0; shift < 32; shift += 8) {
          hash = (hash ^ ((id >>> shift) & 0xff)) * FNV_PRIME;
        }
      }
      previous = mix(hash);
      hashes[block] = previous;
    }
    return new TokenBlocks(ids, hashes, blockSize, loraName);
  }

  /** The token ids of {@code text}: one per piece of up to 4 characters, at least one. */
  static int[] tokenIds(String text) {
    int[] ids = new int[SimulatedEngine.tokens(text)];
    for (int t = 0; t < ids.length; t++) {
      long hash = FNV_OFFSET;
      int end = Math.min(text.length(), (t + 1) * SimulatedEngine.CHARS_PER_TOKEN);
      for (int i = t * SimulatedEngine.CHARS_PER_TOKEN; i < end; i++) {
        char c = text.charAt(i);
        hash = ((hash ^ (c & 0xff)) * FNV_PRIME ^ (c >>> 8)) * FNV_PRIME;
      }
      ids[t] = (int) Long.remainderUnsigned(mix(hash), VOCAB_SIZE);
    }
    return ids;
  }

  /** The number of full blocks. */
  int count() {
    return hashes.length;
  }

  /** The token ids of full block {@code block}. */
  int[] blockTokens(int block) {
    return Arrays.copyOfRange(tokenIds, block * blockSize, (block + 1) * blockSize);
  }

  private static long fnv(long hash, byte[] bytes) {
    for (byte b : bytes) {
      hash = (hash ^ (b & 0xff)) * FNV_PRIME;
    }
    return hash;
  }

  /** MurmurHash3's 64-bit finaliser. */
  private static long mix(long h) {
    h ^= h >>> 33;
    h *= 0xff51afd7ed558ccdL;
    h ^= h >>> 33;
    h *= 0xc4ceb9fe1a85ec53L;
    return h ^ (h >>> 33);
  }
}
