package dev.epp.kvcache.events;

import static dev.epp.kvcache.events.Msgpack.batch;
import static dev.epp.kvcache.events.Msgpack.list;
import static org.awaitility.Awaitility.await;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/** A vLLM-like KV-event publisher: a real JeroMQ PUB socket on loopback. Used from one test thread. */
final class Publisher implements AutoCloseable {

  static final String WARMUP_MODEL = "warmup";
  static final String BARRIER_MODEL = "barrier";

  private final ZContext context = new ZContext(1);
  private final ZMQ.Socket socket = context.createSocket(SocketType.PUB);
  private final int port;
  private final String pod;
  private long sequence;

  /** A publisher on a free port of 127.0.0.1 for topics {@code kv@<pod>@<model>}. */
  Publisher(String pod) {
    this(pod, "127.0.0.1", 0);
  }

  /** A publisher on {@code address:port} (any free port if 0). */
  Publisher(String pod, String address, int port) {
    this.pod = pod;
    socket.setLinger(0);
    socket.setSndHWM(100_000);
    this.port = port == 0 ? socket.bindToRandomPort("tcp://" + address) : bind(address, port);
  }

  private int bind(String address, int port) {
    socket.bind("tcp://" + address + ":" + port);
    return port;
  }

  int port() {
    return port;
  }

  /** Publishes {@code payload} under the next sequence number. */
  void publish(String model, byte[] payload) {
    publish(model, sequence++, payload);
  }

  /** Publishes {@code payload} under {@code seq}; later messages continue from {@code seq + 1}. */
  void publish(String model, long seq, byte[] payload) {
    sequence = seq + 1;
    frames(("kv@" + pod + "@" + model).getBytes(StandardCharsets.UTF_8),
        ByteBuffer.allocate(8).putLong(seq).array(), payload);
  }

  /** Sends raw frames as one message. */
  void frames(byte[]... frames) {
    for (int i = 0; i < frames.length; i++) {
      socket.send(frames[i], i < frames.length - 1 ? ZMQ.SNDMORE : 0);
    }
  }

  long nextSequence() {
    return sequence;
  }

  /**
   * Waits out ZeroMQ's slow joiner: publishes until {@code endpoint} receives a message, then publishes a barrier and
   * waits for it, so that every earlier message has been applied.
   */
  void handshake(RecordingSink sink, String endpoint) {
    await().atMost(Duration.ofSeconds(60)).pollInSameThread().pollInterval(Duration.ofMillis(50)).until(() -> {
      publish(WARMUP_MODEL, batch(list("AllBlocksCleared")));
      return !sink.applies(endpoint, WARMUP_MODEL).isEmpty();
    });
    publish(BARRIER_MODEL, batch(list("AllBlocksCleared")));
    await().atMost(Duration.ofSeconds(60)).until(() -> !sink.applies(endpoint, BARRIER_MODEL).isEmpty());
  }

  @Override
  public void close() {
    context.close();
  }
}
