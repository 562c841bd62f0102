package dev.epp.kvcache.events;

import java.nio.ByteBuffer;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;
import org.zeromq.ZMQException;

/**
 * One request to a vLLM replay (ROUTER) socket for the messages it still buffers: a DEALER sends
 * {@code ["", start-seq]} and receives {@code ["", topic, seq, payload]} per buffered message from {@code start-seq}
 * on, then {@code ["", "", seq, ""]} at the end.
 *
 * <p><b>Threading:</b> the socket is created, used and closed by the calling thread.
 */
final class KvEventReplay {

  /** How long a replay may wait for its next message. */
  static final int IDLE_TIMEOUT_MILLIS = 2_000;
  /** How long one replay may take in all. */
  static final long TOTAL_TIMEOUT_NANOS = 10_000_000_000L;
  /** Silent requests in a row after which a replay fails. */
  static final int MAX_ATTEMPTS_WITHOUT_PROGRESS = 3;
  private static final int MAX_FRAMES = 5;

  /** Receives one replayed message, in sequence order. */
  interface Handler {
    /** Applies a replayed message; throws if it cannot be decoded. */
    void replayed(byte[] topic, byte[] sequence, byte[] payload) throws KvEventDecodeException;
  }

  private KvEventReplay() {}

  /**
   * Requests the messages {@code [from, upTo)} from {@code url} and hands them to {@code handler} in order. A request
   * that goes silent for {@value #IDLE_TIMEOUT_MILLIS} ms is sent again from the next message missing, up to
   * {@value #MAX_ATTEMPTS_WITHOUT_PROGRESS} times in a row without progress (as llm-d does).
   *
   * @return whether every one of them was handed over; {@code false} on a timeout, a missing or malformed message
   */
  static boolean replay(ZContext context, String url, long from, long upTo, Handler handler) {
    long deadline = System.nanoTime() + TOTAL_TIMEOUT_NANOS;
    long next = from;
    int withoutProgress = 0;
    try {
      while (next != upTo && withoutProgress < MAX_ATTEMPTS_WITHOUT_PROGRESS && System.nanoTime() - deadline < 0) {
        long reached = attempt(context, url, next, upTo, deadline, handler);
        if (reached < 0) {
          return false;
        }
        withoutProgress = reached == next ? withoutProgress + 1 : 0;
        next = reached;
      }
      return next == upTo;
    } catch (ZMQException | KvEventDecodeException e) {
      return false;
    }
  }

  /**
   * One request from {@code from}: the next sequence number still missing once it reached {@code upTo} or went
   * silent, or -1 if the answer shows the messages cannot be replayed.
   */
  private static long attempt(ZContext context, String url, long from, long upTo, long deadline, Handler handler)
      throws KvEventDecodeException {
    ZMQ.Socket dealer = context.createSocket(SocketType.DEALER);
    try {
      dealer.setLinger(0);
      dealer.setMaxMsgSize(KvEventDecoder.MAX_PAYLOAD_BYTES);
      dealer.setReceiveTimeOut(IDLE_TIMEOUT_MILLIS);
      dealer.setIPv6(url.startsWith("tcp://["));
      dealer.connect(url);
      dealer.sendMore(new byte[0]);
      dealer.send(ByteBuffer.allocate(Long.BYTES).putLong(from).array());
      long expected = from;
      while (expected != upTo && System.nanoTime() - deadline < 0) {
        byte[][] frames = new byte[MAX_FRAMES][];
        int count = receive(dealer, frames);
        if (count == 0) {
          return expected; // silent
        }
        int first = frames[0].length == 0 ? 1 : 0;
        if (count - first != 3 || count > MAX_FRAMES || frames[first + 2].length == 0) {
          return -1; // malformed, or the end before upTo
        }
        if (KvEventDecoder.sequence(frames[first + 1]) != expected) {
          return -1;
        }
        handler.replayed(frames[first], frames[first + 1], frames[first + 2]);
        expected++;
      }
      return expected;
    } finally {
      dealer.close();
    }
  }

  /** Receives one message into {@code frames}; its frame count (frames past the array are read and dropped). */
  private static int receive(ZMQ.Socket socket, byte[][] frames) {
    byte[] frame = socket.recv(0);
    if (frame == null) {
      return 0;
    }
    int count = 0;
    while (true) {
      if (count < frames.length) {
        frames[count] = frame;
      }
      count++;
      if (!socket.hasReceiveMore()) {
        return count;
      }
      frame = socket.recv(0);
    }
  }
}
