package dev.epp.scheduler.plugins.prefix;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.dynatrace.hash4j.hashing.Hashing;
import com.sun.management.ThreadMXBean;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class PrefixHasherTest {

  /** One-shot XXH64 (seed 0) of {@code block || littleEndian64(previous)}: the chain step, computed independently. */
  private static long step(byte[] block, long previous) {
    ByteBuffer buffer = ByteBuffer.allocate(block.length + 8).order(ByteOrder.LITTLE_ENDIAN);
    buffer.put(block).putLong(previous);
    return Hashing.xxh64().hashBytesToLong(buffer.array());
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void xxh64WithSeedZeroIsTheReferenceFunction() {
    // Reference vectors of XXH64 (and Go's cespare/xxhash Sum64): "" and "abc".
    assertEquals(0xEF46DB3751D8E999L, Hashing.xxh64().hashBytesToLong(new byte[0]));
    assertEquals(0x44BC2CF5AD770999L, Hashing.xxh64().hashBytesToLong(utf8("abc")));
  }

  @Test
  void chainsFullBlocksAndTheTrailingPartialBlock() {
    long seed = Hashing.xxh64().hashBytesToLong(utf8("model" + "salt"));
    long h1 = step(utf8("aaaa"), seed);
    long h2 = step(utf8("bbbb"), h1);
    long h3 = step(utf8("cc"), h2);
    assertArrayEquals(new long[] {h1, h2, h3}, PrefixHasher.hash("model", "salt", "aaaabbbbcc", 4, 256));
  }

  @Test
  void emptySaltSeedsWithTheModelOnly() {
    long seed = Hashing.xxh64().hashBytesToLong(utf8("m"));
    assertArrayEquals(new long[] {step(utf8("abcd"), seed)}, PrefixHasher.hash("m", "", "abcd", 4, 256));
  }

  @Test
  void inputShorterThanOneBlockHasNoHashes() {
    assertEquals(0, PrefixHasher.hash("m", "", "abc", 4, 256).length);
    assertEquals(0, PrefixHasher.hash("m", "", "", 4, 256).length);
    assertEquals(1, PrefixHasher.hash("m", "", "abcd", 4, 256).length);
    assertEquals(2, PrefixHasher.hash("m", "", "abcde", 4, 256).length);
  }

  @Test
  void nonPositiveBlockSizeOrLimitHasNoHashes() {
    assertEquals(0, PrefixHasher.hash("m", "", "abcdefgh", 0, 256).length);
    assertEquals(0, PrefixHasher.hash("m", "", "abcdefgh", 4, 0).length);
  }

  @Test
  void truncatesToMaxBlocksWithoutAPartialBlock() {
    long[] all = PrefixHasher.hash("m", "", "aaaabbbbccccdd", 4, 256);
    long[] two = PrefixHasher.hash("m", "", "aaaabbbbccccdd", 4, 2);
    assertEquals(4, all.length);
    assertArrayEquals(Arrays.copyOf(all, 2), two);
  }

  @Test
  void modelAndSaltSeparateOtherwiseEqualPrompts() {
    long[] base = PrefixHasher.hash("m", "", "aaaabbbb", 4, 256);
    assertNotEquals(base[0], PrefixHasher.hash("other", "", "aaaabbbb", 4, 256)[0]);
    assertNotEquals(base[0], PrefixHasher.hash("m", "tenant-a", "aaaabbbb", 4, 256)[0]);
  }

  @Test
  void sharedPrefixSharesLeadingHashesAndADifferentTailChangesOnlyTheTail() {
    long[] a = PrefixHasher.hash("m", "", "system prompt.. url-1", 4, 256);
    long[] b = PrefixHasher.hash("m", "", "system prompt.. url-2", 4, 256);
    assertEquals(a.length, b.length);
    assertArrayEquals(Arrays.copyOf(a, a.length - 1), Arrays.copyOf(b, b.length - 1));
    assertNotEquals(a[a.length - 1], b[b.length - 1], "the trailing partial block is hashed");
  }

  @Test
  void hashesUtf8BytesNotChars() {
    // "é" is 2 bytes: "éé" is one 4-byte block.
    long seed = Hashing.xxh64().hashBytesToLong(utf8("m"));
    assertArrayEquals(new long[] {step(utf8("éé"), seed)}, PrefixHasher.hash("m", "", "éé", 4, 256));
  }

  @Test
  void utf8EncoderMatchesTheJdkIncludingCutsAndBadSurrogates() {
    Random random = new Random(42);
    char[] alphabet = {'a', 'Z', '{', 'é', 'ß', '€', '中', '\uD83D', '\uDE00', '\uDC00', '\uD800'};
    byte[] out = new byte[1024];
    for (int round = 0; round < 2000; round++) {
      char[] chars = new char[random.nextInt(40)];
      for (int i = 0; i < chars.length; i++) {
        chars[i] = alphabet[random.nextInt(alphabet.length)];
      }
      String s = new String(chars);
      byte[] expected = utf8(s);
      int limit = random.nextInt(expected.length + 2);
      int length = PrefixHasher.Utf8.encode(s, out, limit);
      assertEquals(Math.min(limit, expected.length), length, s);
      assertArrayEquals(Arrays.copyOf(expected, length), Arrays.copyOf(out, length), s);
    }
  }

  /** Once warm, hashing allocates only the result array: no copy of the prompt, no per-block garbage. */
  @Test
  void allocatesOnlyTheResult() {
    ThreadMXBean threads = (ThreadMXBean) ManagementFactory.getThreadMXBean();
    assumeTrue(threads.isThreadAllocatedMemoryEnabled(), "the JVM does not measure thread allocation");
    String prompt = "0123456789abcdef".repeat(2048); // 32 KB, truncated to 256 blocks of 64 bytes
    int calls = 2000;
    for (int i = 0; i < 10 * calls; i++) {
      PrefixHasher.hash("model", "salt", prompt, 64, 256);
    }
    long before = threads.getCurrentThreadAllocatedBytes();
    for (int i = 0; i < calls; i++) {
      PrefixHasher.hash("model", "salt", prompt, 64, 256);
    }
    long perCall = (threads.getCurrentThreadAllocatedBytes() - before) / calls;
    long result = 16 + 256 * 8;
    assertTrue(perCall <= result + 64, () -> "allocated " + perCall + " bytes per call; the result is " + result);
  }
}
