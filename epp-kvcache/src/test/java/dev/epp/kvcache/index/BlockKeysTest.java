package dev.epp.kvcache.index;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import org.junit.jupiter.api.Test;

/**
 * llm-d's tests assert no concrete key values, so parity is checked against canonical CBOR encoded by hand here:
 * byte-for-byte parity with llm-d is unverified.
 */
class BlockKeysTest {

  private static long fnv64a(byte[] bytes) {
    long hash = 0xcbf29ce484222325L;
    for (byte b : bytes) {
      hash = (hash ^ (b & 0xff)) * 0x100000001b3L;
    }
    return hash;
  }

  private static void uint64(ByteArrayOutputStream out, long value) {
    out.write(0x1b);
    for (int shift = 56; shift >= 0; shift -= 8) {
      out.write((int) (value >>> shift));
    }
  }

  @Test
  void fnvMatchesItsPublishedTestVector() {
    assertEquals(0xaf63dc4c8601ec8cL, fnv64a(new byte[] {'a'}));
  }

  @Test
  void rootKeyIsFnvOfCanonicalCborOfSeedHashNullAndModel() {
    ByteArrayOutputStream cbor = new ByteArrayOutputStream();
    cbor.write(0x83);
    uint64(cbor, 0xaf63dc4c8601ec8cL); // FNV-64a("a"), the seed's hash
    cbor.write(0xf6);
    cbor.write(0x61); // text of length 1
    cbor.write('m');
    assertEquals(fnv64a(cbor.toByteArray()), new BlockKeys(16, "a").rootKey("m"));
  }

  @Test
  void blockKeyEncodesEachTokenInItsShortestCborForm() {
    BlockKeys keys = new BlockKeys(8, "");
    long root = keys.rootKey("model");
    assertTrue(Long.compareUnsigned(root, 0xffffffffL) > 0, "the hand encoding below assumes an 8-byte parent");
    int[] tokens = {0, 23, 24, 255, 256, 65535, 65536, -1};
    ByteArrayOutputStream cbor = new ByteArrayOutputStream();
    cbor.write(0x83);
    uint64(cbor, root);
    cbor.writeBytes(new byte[] {(byte) 0x88, 0x00, 0x17, 0x18, 0x18, 0x18, (byte) 0xff, 0x19, 0x01, 0x00,
        0x19, (byte) 0xff, (byte) 0xff, 0x1a, 0x00, 0x01, 0x00, 0x00, 0x1a, (byte) 0xff, (byte) 0xff, (byte) 0xff,
        (byte) 0xff});
    cbor.write(0xf6);
    assertArrayEquals(new long[] {fnv64a(cbor.toByteArray())}, keys.keys("model", tokens));
  }

  @Test
  void onlyFullBlocksAreKeyedAndEachChainsFromThePrevious() {
    BlockKeys keys = new BlockKeys(2, "");
    int[] tokens = {1, 2, 3, 4, 5};
    long[] all = keys.keys("m", tokens);
    assertEquals(2, all.length);
    assertArrayEquals(new long[] {all[1]}, keys.keys(all[0], tokens, 2, 5));
    assertArrayEquals(new long[0], keys.keys("m", new int[] {1}));
    assertNotEquals(all[0], keys.keys("other-model", tokens)[0]);
    assertNotEquals(all[0], new BlockKeys(2, "seed").keys("m", tokens)[0]);
  }

  @Test
  void rejectsANonPositiveBlockSize() {
    assertThrows(IllegalArgumentException.class, () -> new BlockKeys(0, ""));
  }
}
