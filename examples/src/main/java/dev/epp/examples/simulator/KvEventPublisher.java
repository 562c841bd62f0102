package dev.epp.examples.simulator;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import org.msgpack.core.MessageBufferPacker;
import org.msgpack.core.MessagePack;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;
import org.zeromq.ZMQException;

/**
 * Publishes a simulated engine's KV-cache changes over ZeroMQ exactly as vLLM does ({@code --kv-events-config}), so an
 * EPP can follow what each pod has cached.
 *
 * <p>A PUB socket bound to {@code tcp://<host>:<port>} sends one message per engine step that changed the cache, in
 * three frames: the topic {@code kv@<pod>@<model>}, an 8-byte big-endian sequence number (0, 1, 2, ... per message)
 * and a msgpack payload {@code [timestamp seconds (float), [event, ...], null]} (the last element is the data-parallel
 * rank: none). Events are msgspec {@code array_like} arrays, tag first ({@link Encoding#ARRAY}), or maps with the tag
 * under {@code type} ({@link Encoding#MAP}):
 * <ul>
 *   <li>{@code ["BlockStored", [hash, ...], parentHash|null, [tokenId, ...], blockSize, null, "GPU", loraName|null]}:
 *       blocks that became resident, in prompt order, consecutive blocks of one sequence in one event;
 *   <li>{@code ["BlockRemoved", [hash], "GPU"]}: an eviction;
 *   <li>{@code ["AllBlocksCleared"]}: sent once when the publisher starts, the engine's cache being empty.
 * </ul>
 * Hashes are unsigned 64-bit integers.
 *
 * <p>Events are collected on the engine's thread and sent by a task scheduled on that thread right after the step
 * that produced them. Sending never blocks: a PUB socket drops messages no subscriber can take.
 *
 * <p><b>Threading:</b> the listener methods run on the clock's thread; {@link #close} on any thread once the engine
 * has stopped.
 */
final class KvEventPublisher implements KvCache.Listener, AutoCloseable {

  /** How events are encoded: positional arrays (vLLM's default) or maps tagged under {@code type}. */
  enum Encoding {
    ARRAY,
    MAP;

    /** {@code array} or {@code map}. */
    static Encoding parse(String value) {
      return valueOf(value.toUpperCase(Locale.ROOT));
    }
  }

  /** The publisher's address cannot be bound. */
  static final class BindException extends IOException {
    private static final long serialVersionUID = 1L;

    BindException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** The device tier vLLM names for GPU memory. */
  static final String MEDIUM = "GPU";

  private final SimClock clock;
  private final ZContext context;
  private final ZMQ.Socket socket;
  private final int port;
  private final byte[] topic;
  private final Encoding encoding;
  private final List<Object> pending = new ArrayList<>();
  private long sequence;

  private KvEventPublisher(SimClock clock, ZContext context, ZMQ.Socket socket, int port, String topic,
      Encoding encoding) {
    this.clock = clock;
    this.context = context;
    this.socket = socket;
    this.port = port;
    this.topic = topic.getBytes(StandardCharsets.UTF_8);
    this.encoding = encoding;
  }

  /**
   * Binds a publisher and queues {@code AllBlocksCleared}.
   *
   * @param host the address to bind, or {@code *} for every interface
   * @param port the port; 0 picks a free one
   * @param pod the pod name in the topic
   * @param model the served model in the topic
   * @throws BindException if the address cannot be bound
   */
  static KvEventPublisher bind(SimClock clock, String host, int port, String pod, String model, Encoding encoding)
      throws BindException {
    ZContext context = new ZContext(1);
    try {
      ZMQ.Socket socket = context.createSocket(SocketType.PUB);
      socket.setLinger(0);
      int bound = port;
      if (port == 0) {
        bound = socket.bindToRandomPort("tcp://" + host);
      } else {
        socket.bind("tcp://" + host + ":" + port);
      }
      KvEventPublisher publisher = new KvEventPublisher(clock, context, socket, bound,
          "kv@" + pod + "@" + model, encoding);
      clock.schedule(0, () -> publisher.add(new Cleared()));
      return publisher;
    } catch (ZMQException e) {
      context.close();
      throw new BindException("cannot bind the KV events publisher on " + host + ":" + port + ": " + e.getMessage(), e);
    }
  }

  /** The bound port. */
  int port() {
    return port;
  }

  @Override
  public void stored(long hash, long parentHash, boolean hasParent, int[] tokenIds, String loraName) {
    if (!pending.isEmpty() && pending.get(pending.size() - 1) instanceof Stored last && hasParent
        && last.lastHash() == parentHash && Objects.equals(last.loraName, loraName)) {
      last.hashes.add(hash);
      last.tokenIds.add(tokenIds);
      return;
    }
    Stored event = new Stored(parentHash, hasParent, tokenIds.length, loraName);
    event.hashes.add(hash);
    event.tokenIds.add(tokenIds);
    add(event);
  }

  @Override
  public void removed(long hash) {
    add(new Removed(hash));
  }

  /** Stops publishing; messages not yet sent are dropped. */
  @Override
  public void close() {
    context.close();
  }

  private void add(Object event) {
    if (pending.isEmpty()) {
      clock.schedule(0, this::flush);
    }
    pending.add(event);
  }

  private void flush() {
    if (pending.isEmpty()) {
      return;
    }
    byte[] payload;
    try (MessageBufferPacker packer = MessagePack.newDefaultBufferPacker()) {
      packer.packArrayHeader(3);
      packer.packDouble(System.currentTimeMillis() / 1000.0);
      packer.packArrayHeader(pending.size());
      for (Object event : pending) {
        pack(packer, event);
      }
      packer.packNil();
      payload = packer.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e); // a buffer packer does no I/O
    } finally {
      pending.clear();
    }
    try {
      socket.send(topic, ZMQ.SNDMORE | ZMQ.DONTWAIT);
      socket.send(ByteBuffer.allocate(Long.BYTES).putLong(sequence++).array(), ZMQ.SNDMORE | ZMQ.DONTWAIT);
      socket.send(payload, ZMQ.DONTWAIT);
    } catch (ZMQException e) {
      // the context is closing: the pod is stopping
    }
  }

  private void pack(MessageBufferPacker packer, Object event) throws IOException {
    boolean map = encoding == Encoding.MAP;
    if (event instanceof Stored stored) {
      header(packer, map, 8, "BlockStored");
      field(packer, map, "block_hashes");
      packer.packArrayHeader(stored.hashes.size());
      for (long hash : stored.hashes) {
        packHash(packer, hash);
      }
      field(packer, map, "parent_block_hash");
      if (stored.hasParent) {
        packHash(packer, stored.parentHash);
      } else {
        packer.packNil();
      }
      field(packer, map, "token_ids");
      packer.packArrayHeader(stored.hashes.size() * stored.blockSize);
      for (int[] block : stored.tokenIds) {
        for (int id : block) {
          packer.packInt(id);
        }
      }
      field(packer, map, "block_size");
      packer.packInt(stored.blockSize);
      field(packer, map, "lora_id");
      packer.packNil();
      field(packer, map, "medium");
      packer.packString(MEDIUM);
      field(packer, map, "lora_name");
      if (stored.loraName == null) {
        packer.packNil();
      } else {
        packer.packString(stored.loraName);
      }
    } else if (event instanceof Removed removed) {
      header(packer, map, 3, "BlockRemoved");
      field(packer, map, "block_hashes");
      packer.packArrayHeader(1);
      packHash(packer, removed.hash);
      field(packer, map, "medium");
      packer.packString(MEDIUM);
    } else {
      header(packer, map, 1, "AllBlocksCleared");
    }
  }

  /** Starts an event of {@code fields} fields, the tag included. */
  private static void header(MessageBufferPacker packer, boolean map, int fields, String tag) throws IOException {
    if (map) {
      packer.packMapHeader(fields);
      packer.packString("type");
    } else {
      packer.packArrayHeader(fields);
    }
    packer.packString(tag);
  }

  private static void field(MessageBufferPacker packer, boolean map, String name) throws IOException {
    if (map) {
      packer.packString(name);
    }
  }

  private static void packHash(MessageBufferPacker packer, long hash) throws IOException {
    if (hash >= 0) {
      packer.packLong(hash);
    } else {
      packer.packBigInteger(new BigInteger(Long.toUnsignedString(hash)));
    }
  }

  /** Consecutive blocks of one sequence stored in one step. */
  private static final class Stored {
    final List<Long> hashes = new ArrayList<>();
    final List<int[]> tokenIds = new ArrayList<>();
    final long parentHash;
    final boolean hasParent;
    final int blockSize;
    final String loraName;

    Stored(long parentHash, boolean hasParent, int blockSize, String loraName) {
      this.parentHash = parentHash;
      this.hasParent = hasParent;
      this.blockSize = blockSize;
      this.loraName = loraName;
    }

    long lastHash() {
      return hashes.get(hashes.size() - 1);
    }
  }

  private record Removed(long hash) {}

  private record Cleared() {}
}
