package dev.epp.scheduler.plugins.prefix;

import com.dynatrace.hash4j.hashing.Hasher64;
import com.dynatrace.hash4j.hashing.Hashing;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * One link of the prefix hash chain: XXH64 with seed 0 of a block of bytes followed by the eight little-endian bytes
 * of the previous link, bit-identical to hash4j's (and Go's cespare/xxhash) XXH64 of that concatenation.
 *
 * <p><b>Threading:</b> stateless; {@link #step} is thread-safe, the caller owns {@code scratch}.
 */
final class Xxh64Chain {

  /*
   * A chain link hashes a short message (a 64-byte block and 8 bytes of the previous hash, by default), so each
   * link pays XXH64's whole set-up and finalisation: hashing 32 KB this way takes about four times the
   * multiplications of one XXH64 pass over the same bytes. Only the finalisation depends on the previous link; the
   * stripes of the block do not, so the code below keeps them apart and the CPU overlaps the stripes of the next
   * block with the finalisation of this one. The usual 64-byte block has its own straight-line path. Blocks whose
   * length is not a multiple of the 32-byte stripe (a trailing partial block, an unusual block size) are copied next
   * to the previous hash into a scratch buffer and hashed with hash4j in one call.
   */

  private static final long P1 = 0x9E3779B185EBCA87L;
  private static final long P2 = 0xC2B2AE3D27D4EB4FL;
  private static final long P3 = 0x165667B19E3779F9L;
  private static final long P4 = 0x85EBCA77C2B2AE63L;
  private static final VarHandle LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
  private static final Hasher64 XXH64 = Hashing.xxh64();

  private Xxh64Chain() {}

  /**
   * XXH64 (seed 0) of {@code bytes[offset, offset + length)} followed by {@code littleEndian64(previous)}.
   *
   * @param length at least 1
   * @param scratch at least {@code length + 8} bytes; overwritten when {@code length} is not a multiple of 32
   */
  static long step(byte[] bytes, int offset, int length, long previous, byte[] scratch) {
    if (length == 64) {
      return finish(block64(bytes, offset), previous);
    }
    if ((length & 31) == 0) {
      return finish(stripes(bytes, offset, length), previous);
    }
    System.arraycopy(bytes, offset, scratch, 0, length);
    LONG.set(scratch, length, previous);
    return XXH64.hashBytesToLong(scratch, 0, length + 8);
  }

  /** The state after two stripes, merged, with the message length (72) added. */
  private static long block64(byte[] b, int p) {
    long v1 = round(round(P1 + P2, (long) LONG.get(b, p)), (long) LONG.get(b, p + 32));
    long v2 = round(round(P2, (long) LONG.get(b, p + 8)), (long) LONG.get(b, p + 40));
    long v3 = round(round(0, (long) LONG.get(b, p + 16)), (long) LONG.get(b, p + 48));
    long v4 = round(round(-P1, (long) LONG.get(b, p + 24)), (long) LONG.get(b, p + 56));
    return merge(v1, v2, v3, v4) + 72;
  }

  /** The state after {@code length / 32} stripes, merged, with the message length added. */
  private static long stripes(byte[] b, int offset, int length) {
    long v1 = P1 + P2;
    long v2 = P2;
    long v3 = 0;
    long v4 = -P1;
    for (int p = offset, end = offset + length; p < end; p += 32) {
      v1 = round(v1, (long) LONG.get(b, p));
      v2 = round(v2, (long) LONG.get(b, p + 8));
      v3 = round(v3, (long) LONG.get(b, p + 16));
      v4 = round(v4, (long) LONG.get(b, p + 24));
    }
    return merge(v1, v2, v3, v4) + length + 8;
  }

  private static long merge(long v1, long v2, long v3, long v4) {
    long h = Long.rotateLeft(v1, 1) + Long.rotateLeft(v2, 7) + Long.rotateLeft(v3, 12) + Long.rotateLeft(v4, 18);
    h = (h ^ round(0, v1)) * P1 + P4;
    h = (h ^ round(0, v2)) * P1 + P4;
    h = (h ^ round(0, v3)) * P1 + P4;
    return (h ^ round(0, v4)) * P1 + P4;
  }

  /** The last eight bytes (the previous link) and the avalanche. */
  private static long finish(long h, long previous) {
    h ^= round(0, previous);
    h = Long.rotateLeft(h, 27) * P1 + P4;
    h ^= h >>> 33;
    h *= P2;
    h ^= h >>> 29;
    h *= P3;
    return h ^ (h >>> 32);
  }

  private static long round(long acc, long input) {
    return Long.rotateLeft(acc + input * P2, 31) * P1;
  }
}
