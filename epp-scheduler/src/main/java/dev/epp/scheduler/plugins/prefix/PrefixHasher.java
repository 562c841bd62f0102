package dev.epp.scheduler.plugins.prefix;

import com.dynatrace.hash4j.hashing.HashStream64;
import com.dynatrace.hash4j.hashing.Hashing;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetEncoder;
import java.nio.charset.StandardCharsets;

/**
 * Splits a prompt into blocks and computes the chained block hashes the prefix index is keyed by.
 *
 * <p><b>Threading:</b> thread-safe; each thread reuses its own hash stream, encoder and buffers.
 */
final class PrefixHasher {

  /*
   * The Go EPP's hash chain (hashing.go at GIE 1748e829, the version that also hashes the trailing partial block):
   *
   *   input = UTF-8 bytes of the prompt, truncated to blockChars * maxBlocks bytes
   *   h0    = XXH64(targetModel || cacheSalt)                   (salt only when not empty; seed 0 everywhere)
   *   h_i+1 = XXH64(block_i || littleEndian64(h_i))             for each blockChars-byte block, then the remainder
   *
   * An input shorter than one block has no hashes, as in Go. Hashing the trailing partial block keeps prompts
   * that differ only in their last bytes (a multimodal URL after a shared text prefix) from all hashing alike and
   * piling onto one server.
   *
   * Only the bytes that are hashed are encoded, so a long prompt costs no more than maxBlocks blocks, and nothing
   * is allocated but the result: the UTF-8 encoder writes into a per-thread buffer and each link of the chain is
   * computed in place (Xxh64Chain). hash4j's XXH64 with seed 0 is bit-identical to Go's cespare/xxhash Sum64, and
   * its putLong is little-endian.
   */

  private static final long[] NONE = new long[0];
  private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

  private PrefixHasher() {}

  /**
   * The block hashes of {@code prompt}, one per block including a trailing partial block; empty if the prompt is
   * shorter than one block or {@code blockChars} or {@code maxBlocks} is not positive.
   *
   * @param model the target model, which seeds the chain
   * @param cacheSalt the request's {@code cache_salt}, or empty
   * @param blockChars bytes per block
   * @param maxBlocks the most full blocks to hash; the input is truncated to {@code blockChars × maxBlocks} bytes
   */
  static long[] hash(String model, String cacheSalt, String prompt, int blockChars, int maxBlocks) {
    if (blockChars <= 0 || maxBlocks <= 0 || prompt.length() * 3L < blockChars) {
      return NONE;
    }
    Scratch scratch = SCRATCH.get();
    int limit = (int) Math.min((long) blockChars * maxBlocks, prompt.length() * 3L);
    byte[] bytes = scratch.buffer(limit);
    int length = scratch.utf8.encodeInto(prompt, bytes, limit);
    if (length < blockChars) {
      return NONE;
    }
    long[] hashes = new long[(length + blockChars - 1) / blockChars];
    HashStream64 stream = scratch.stream;
    stream.reset().putCharsUTF8(model);
    if (!cacheSalt.isEmpty()) {
      stream.putCharsUTF8(cacheSalt);
    }
    long previous = stream.getAsLong();
    byte[] link = scratch.link(blockChars + 8);
    for (int i = 0, offset = 0; offset < length; i++, offset += blockChars) {
      previous = Xxh64Chain.step(bytes, offset, Math.min(blockChars, length - offset), previous, link);
      hashes[i] = previous;
    }
    return hashes;
  }

  /** One thread's reusable state. */
  private static final class Scratch {
    final HashStream64 stream = Hashing.xxh64().hashStream();
    final Utf8 utf8 = new Utf8();
    private byte[] bytes = new byte[4096];
    private byte[] link = new byte[72];

    byte[] buffer(int size) {
      if (bytes.length < size) {
        bytes = new byte[Math.max(size, bytes.length * 2)];
      }
      return bytes;
    }

    byte[] link(int size) {
      if (link.length < size) {
        link = new byte[size];
      }
      return link;
    }
  }

  /**
   * A UTF-8 encoder of string prefixes into a caller's buffer.
   *
   * <p><b>Threading:</b> an instance is confined to one thread; the static {@link #encode(String, byte[], int)}
   * uses the calling thread's.
   */
  static final class Utf8 {

    /*
     * Runs of ASCII characters, almost all of a typical prompt, go through the JDK's US-ASCII encoder, whose
     * array loop is a vectorised intrinsic; the String's characters are first copied into a reused char[] (for a
     * Latin-1 String another intrinsic), because only an array-backed CharBuffer takes the fast path. The encoder
     * stops before the first other character; from there this class encodes by hand until the next ASCII one.
     */

    private final CharsetEncoder ascii = StandardCharsets.US_ASCII.newEncoder();
    private char[] chars = new char[0];
    private CharBuffer in = CharBuffer.wrap(chars);
    private byte[] wrapped;
    private ByteBuffer out;

    /**
     * Encodes {@code s} as {@link String#getBytes(java.nio.charset.Charset)} with UTF-8 would (an unpaired
     * surrogate becomes {@code '?'}), stopping after {@code limit} bytes; a character cut by the limit is cut
     * mid-sequence, as Go slices bytes.
     *
     * @param out at least {@code limit} long
     * @return the number of bytes written, at most {@code limit}
     */
    static int encode(String s, byte[] out, int limit) {
      return SCRATCH.get().utf8.encodeInto(s, out, limit);
    }

    /** As {@link #encode(String, byte[], int)}, with this instance's buffers. */
    int encodeInto(String s, byte[] bytes, int limit) {
      // Every character takes at least one byte, so limit + 1 characters cover the limit and the low half of a
      // surrogate pair that the limit cuts.
      int n = (int) Math.min(s.length(), limit + 1L);
      if (chars.length < n) {
        chars = new char[Math.max(n, chars.length * 2)];
        in = CharBuffer.wrap(chars);
      }
      s.getChars(0, n, chars, 0);
      if (bytes != wrapped) {
        wrapped = bytes;
        out = ByteBuffer.wrap(bytes);
      }
      int i = 0;
      int j = 0;
      while (i < n && j < limit) {
        in.clear().limit(Math.min(n, i + (limit - j))).position(i);
        out.clear().limit(limit).position(j);
        ascii.reset().encode(in, out, true);
        i = in.position();
        j = out.position();
        while (i < n && j < limit && chars[i] >= 0x80) {
          char c = chars[i++];
          if (c < 0x800) {
            j = put(bytes, j, limit, 0xC0 | (c >> 6));
            j = put(bytes, j, limit, 0x80 | (c & 0x3F));
          } else if (Character.isHighSurrogate(c) && i < n && Character.isLowSurrogate(chars[i])) {
            int cp = Character.toCodePoint(c, chars[i++]);
            j = put(bytes, j, limit, 0xF0 | (cp >> 18));
            j = put(bytes, j, limit, 0x80 | ((cp >> 12) & 0x3F));
            j = put(bytes, j, limit, 0x80 | ((cp >> 6) & 0x3F));
            j = put(bytes, j, limit, 0x80 | (cp & 0x3F));
          } else if (Character.isSurrogate(c)) {
            bytes[j++] = '?';
          } else {
            j = put(bytes, j, limit, 0xE0 | (c >> 12));
            j = put(bytes, j, limit, 0x80 | ((c >> 6) & 0x3F));
            j = put(bytes, j, limit, 0x80 | (c & 0x3F));
          }
        }
      }
      return j;
    }

    private static int put(byte[] out, int j, int limit, int b) {
      if (j < limit) {
        out[j++] = (byte) b;
      }
      return j;
    }
  }
}
