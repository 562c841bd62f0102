package dev.epp.metrics.scrape.internal;

import java.util.ArrayDeque;

/**
 * Spare read buffers, handed from one finished poll to the next, so that a buffer is held only while a response is
 * being read and a few hot buffers serve many endpoints. At most {@value #MAX_SPARE_BYTES} bytes are kept spare;
 * buffers beyond that are left to the garbage collector.
 *
 * <p><b>Threading:</b> thread-safe.
 */
public final class BufferPool {

  /** The most bytes of spare buffers kept. */
  public static final int MAX_SPARE_BYTES = 1 << 20;

  private final ArrayDeque<byte[]> spares = new ArrayDeque<>(); // most recently returned first
  private long spareBytes;

  /** A spare buffer, or null if there is none. */
  public synchronized byte[] take() {
    byte[] buffer = spares.pollFirst();
    if (buffer != null) {
      spareBytes -= buffer.length;
    }
    return buffer;
  }

  /** Returns {@code buffer} (null is ignored); kept if the spares stay within {@value #MAX_SPARE_BYTES} bytes. */
  public synchronized void give(byte[] buffer) {
    if (buffer != null && spareBytes + buffer.length <= MAX_SPARE_BYTES) {
      spares.addFirst(buffer);
      spareBytes += buffer.length;
    }
  }

  /** The bytes of the spare buffers. */
  public synchronized long spareBytes() {
    return spareBytes;
  }
}
