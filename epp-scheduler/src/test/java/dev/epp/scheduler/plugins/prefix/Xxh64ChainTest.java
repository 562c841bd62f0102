package dev.epp.scheduler.plugins.prefix;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.dynatrace.hash4j.hashing.Hashing;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The chain link against hash4j's XXH64 of the concatenated bytes, and prompts against a naive reference. */
class Xxh64ChainTest {

  /** XXH64 (seed 0) of {@code block || littleEndian64(previous)}, computed by hash4j in one call. */
  private static long reference(byte[] bytes, int offset, int length, long previous) {
    ByteBuffer buffer = ByteBuffer.allocate(length + 8).order(ByteOrder.LITTLE_ENDIAN);
    buffer.put(bytes, offset, length).putLong(previous);
    return Hashing.xxh64().hashBytesToLong(buffer.array());
  }

  @Test
  void everyLengthAndOffsetMatchesHash4j() {
    Random random = new Random(7);
    byte[] bytes = new byte[600];
    random.nextBytes(bytes);
    byte[] scratch = new byte[600 + 8];
    for (int length = 1; length <= 512; length++) {
      for (int offset : new int[] {0, 1, 7, 600 - length}) {
        long previous = random.nextLong();
        assertEquals(reference(bytes, offset, length, previous),
            Xxh64Chain.step(bytes, offset, length, previous, scratch), "length " + length + " offset " + offset);
      }
    }
  }

  @Test
  void specialPreviousValuesMatchHash4j() {
    byte[] bytes = "0123456789abcdef".repeat(4).getBytes(StandardCharsets.US_ASCII);
    byte[] scratch = new byte[72];
    for (long previous : new long[] {0, -1, Long.MIN_VALUE, Long.MAX_VALUE, 1}) {
      for (int length : new int[] {64, 32, 33, 8}) {
        assertEquals(reference(bytes, 0, length, previous), Xxh64Chain.step(bytes, 0, length, previous, scratch));
      }
    }
  }

  /** The Go chain written out naively: encode the whole prompt, truncate, hash each block with hash4j. */
  private static long[] naive(String model, String salt, String prompt, int blockChars, int maxBlocks) {
    byte[] all = prompt.getBytes(StandardCharsets.UTF_8);
    byte[] input = Arrays.copyOf(all, (int) Math.min(all.length, (long) blockChars * maxBlocks));
    if (input.length < blockChars) {
      return new long[0];
    }
    long previous = Hashing.xxh64().hashBytesToLong((model + salt).getBytes(StandardCharsets.UTF_8));
    long[] out = new long[(input.length + blockChars - 1) / blockChars];
    for (int i = 0; i < out.length; i++) {
      int offset = i * blockChars;
      previous = reference(input, offset, Math.min(blockChars, input.length - offset), previous);
      out[i] = previous;
    }
    return out;
  }

  @Test
  void longMixedPromptsMatchTheNaiveChain() {
    Random random = new Random(11);
    String[] pieces = {"the model ", "server ", "é", "中文", "\uD83D\uDE00", "\uD800", "€uro ", "x", "\uDC00",
        "a".repeat(100), "ß".repeat(30)};
    for (int round = 0; round < 300; round++) {
      StringBuilder sb = new StringBuilder();
      int target = random.nextInt(3000);
      while (sb.length() < target) {
        sb.append(pieces[random.nextInt(pieces.length)]);
      }
      String prompt = sb.toString();
      int blockChars = new int[] {64, 32, 40, 96, 7, 128}[random.nextInt(6)];
      int maxBlocks = 1 + random.nextInt(80);
      assertEquals(Arrays.toString(naive("m", "salt", prompt, blockChars, maxBlocks)),
          Arrays.toString(PrefixHasher.hash("m", "salt", prompt, blockChars, maxBlocks)),
          "round " + round + ", blockChars " + blockChars + ", maxBlocks " + maxBlocks);
    }
  }

  @Test
  void asciiPromptsOfManySizesMatchTheNaiveChain() {
    StringBuilder sb = new StringBuilder();
    Random random = new Random(3);
    for (int length = 0; length < 2100; length += 1 + random.nextInt(50)) {
      while (sb.length() < length) {
        sb.append((char) (' ' + random.nextInt(95)));
      }
      String prompt = sb.toString();
      for (int maxBlocks : new int[] {1, 3, 256}) {
        assertEquals(Arrays.toString(naive("llama", "", prompt, 64, maxBlocks)),
            Arrays.toString(PrefixHasher.hash("llama", "", prompt, 64, maxBlocks)), "length " + length);
      }
    }
  }
}
