package dev.epp.kvcache.events;

import static dev.epp.kvcache.events.Msgpack.batch;
import static dev.epp.kvcache.events.Msgpack.list;
import static org.awaitility.Awaitility.await;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/**
 * A vLLM-like KV-event publisher: a real JeroMQ PUB socket on loopback, used from one test thread, and optionally
 * vLLM's replay ROUTER socket, served by its own thread from the messages published so far.
 */
final class Publisher implements AutoCloseable {

  static final String WARMUP_MODEL = "warmup";
  static final String BARRIER_MODEL = "barrier";

  private final ZContext context = new ZContext(1);
  private final ZMQ.Socket socket = context.createSocket(SocketType.PUB);
  private final int port;
  private final String pod;
  private long sequence;
  private final List<byte[][]> history = new CopyOnWriteArrayList<>();
  private ReplayServer replay;

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

  /** Starts serving replay requests on a free port of 127.0.0.1; returns the port. */
  int startReplay() {
    replay = new ReplayServer();
    return replay.port;
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
    frames(buffer(model, seq, payload));
  }

  /** Buffers {@code payload} for replay under the next sequence number without publishing it: a lost message. */
  void lose(String model, byte[] payload) {
    buffer(model, sequence, payload);
  }

  private byte[][] buffer(String model, long seq, byte[] payload) {
    sequence = seq + 1;
    byte[][] message = {("kv@" + pod + "@" + model).getBytes(StandardCharsets.UTF_8),
        ByteBuffer.allocate(8).putLong(seq).array(), payload};
    history.add(message);
    return message;
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
    if (replay != null) {
      replay.close();
    }
    context.close();
  }

  /** vLLM's replay socket: answers {@code ["", start]} with every buffered message from {@code start}, then the end. */
  private final class ReplayServer implements AutoCloseable {
    private final ZMQ.Socket router = context.createSocket(SocketType.ROUTER);
    private final int port;
    private final Thread thread;
    private volatile boolean running = true;

    ReplayServer() {
      router.setLinger(0);
      router.setReceiveTimeOut(50);
      port = router.bindToRandomPort("tcp://127.0.0.1");
      thread = new Thread(this::serve, "test-replay-server");
      thread.start();
    }

    private void serve() {
      while (running) {
        byte[] id = router.recv(0);
        if (id == null) {
          continue;
        }
        router.recv(0);
        long start = ByteBuffer.wrap(router.recv(0)).getLong();
        for (byte[][] message : history) {
          if (ByteBuffer.wrap(message[1]).getLong() >= start) {
            router.sendMore(id);
            router.sendMore(new byte[0]);
            router.sendMore(message[0]);
            router.sendMore(message[1]);
            router.send(message[2]);
          }
        }
        router.sendMore(id);
        router.sendMore(new byte[0]);
        router.sendMore(new byte[0]);
        router.sendMore(ByteBuffer.allocate(8).putLong(-1).array());
        router.send(new byte[0]);
      }
      router.close();
    }

    @Override
    public void close() {
      running = false;
      try {
        thread.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
