package dev.epp.kvcache.events;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.msgpack.core.MessageFormat;
import org.msgpack.core.MessagePack;
import org.msgpack.core.MessagePackException;
import org.msgpack.core.MessageUnpacker;
import org.msgpack.value.ValueType;

/**
 * Decodes vLLM's KV-event messages: three ZeroMQ frames, topic {@code kv@<pod-id>@<model-name>}, an 8-byte big-endian
 * sequence number and a msgpack payload {@code [ts, events[], dp_rank?]}.
 *
 * <p>Events come in either of vLLM's encodings: positional arrays whose first element is the tag (msgspec
 * {@code array_like}, trailing defaults omitted) or maps tagged by {@code type}. Fields are read by position (or
 * name): {@code BlockStored [tag, block_hashes, parent_block_hash, token_ids, block_size, lora_id, medium,
 * lora_name, extra_keys, ...]}, {@code BlockRemoved [tag, block_hashes, medium, ...]}, {@code AllBlocksCleared [tag]};
 * later fields (hybrid-allocator group, cache-spec kind, ...) are read past. An engine block hash is an integer
 * (uint64, kept as its 64 bits) or bytes (the last 8 bytes, big-endian; shorter ones left-padded with zeros).
 * Events of another type are skipped and counted.
 *
 * <p>Hostile input: a payload that is not such a message raises {@link KvEventDecodeException}. Every length a
 * msgpack header announces is checked against the bytes left and against these limits before anything is allocated:
 * {@value #MAX_PAYLOAD_BYTES} bytes per payload, {@value #MAX_EVENTS} events per message, {@value #MAX_TOKENS} token
 * ids and {@value #MAX_HASHES} block hashes per event, {@value #MAX_STRING_BYTES} bytes per string or byte string,
 * {@value #MAX_DEPTH} levels of nesting.
 *
 * <p><b>Threading:</b> stateless; thread-safe.
 */
final class KvEventDecoder {

  /** The largest payload decoded (also the largest ZeroMQ message accepted). */
  static final int MAX_PAYLOAD_BYTES = 4 << 20;
  /** The most events one message may carry. */
  static final int MAX_EVENTS = 10_000;
  /** The most token ids one {@code BlockStored} may carry. */
  static final int MAX_TOKENS = 1 << 20;
  /** The most block hashes one event may carry. */
  static final int MAX_HASHES = 1 << 16;
  /** The longest string or byte string. */
  static final int MAX_STRING_BYTES = 64 << 10;
  /** The deepest nesting of arrays and maps inside an event (the event itself is level 1). */
  static final int MAX_DEPTH = 8;

  private static final String TAG = "type";
  private static final List<String> BLOCK_STORED_FIELDS = List.of("block_hashes", "parent_block_hash", "token_ids",
      "block_size", "lora_id", "medium", "lora_name", "extra_keys");
  private static final List<String> BLOCK_REMOVED_FIELDS = List.of("block_hashes", "medium");

  /**
   * One decoded message.
   *
   * @param podId the topic's pod id (the whole topic if it is not {@code kv@<pod-id>@<model-name>})
   * @param model the topic's model name, or {@code ""}
   * @param events the known events, in order
   * @param unknownEvents how many events of another type were skipped
   */
  record Message(String podId, String model, List<KvEvent> events, int unknownEvents) {}

  private KvEventDecoder() {}

  /** The sequence number in an 8-byte big-endian frame. */
  static long sequence(byte[] frame) throws KvEventDecodeException {
    if (frame.length != Long.BYTES) {
      throw new KvEventDecodeException("sequence frame has " + frame.length + " bytes, expected 8");
    }
    long value = 0;
    for (byte b : frame) {
      value = (value << 8) | (b & 0xff);
    }
    return value;
  }

  /** Decodes the topic and payload frames of one message. */
  static Message decode(byte[] topic, byte[] payload) throws KvEventDecodeException {
    if (payload.length > MAX_PAYLOAD_BYTES) {
      throw new KvEventDecodeException("payload of " + payload.length + " bytes exceeds " + MAX_PAYLOAD_BYTES);
    }
    String topicText = new String(topic, StandardCharsets.UTF_8);
    String[] parts = topicText.split("@", -1);
    String podId = parts.length == 3 ? parts[1] : topicText;
    String model = parts.length == 3 ? parts[2] : "";
    try (MessageUnpacker in = MessagePack.newDefaultUnpacker(payload)) {
      Reader reader = new Reader(in, payload.length);
      int size = reader.arrayHeader(Integer.MAX_VALUE);
      if (size < 2) {
        throw new KvEventDecodeException("payload is an array of " + size + " elements, expected [ts, events, ...]");
      }
      reader.value(1); // ts
      int count = reader.arrayHeader(MAX_EVENTS);
      List<KvEvent> events = new ArrayList<>(count);
      int unknown = 0;
      for (int i = 0; i < count; i++) {
        KvEvent event = toEvent(reader.value(1), i);
        if (event == null) {
          unknown++;
        } else {
          events.add(event);
        }
      }
      for (int i = 2; i < size; i++) {
        reader.value(1); // dp_rank and later fields: read so that a truncated payload is an error
      }
      return new Message(podId, model, Collections.unmodifiableList(events), unknown);
    } catch (IOException | MessagePackException e) {
      throw new KvEventDecodeException("malformed msgpack: " + e.getMessage());
    }
  }

  /** The event {@code raw} encodes, or {@code null} for an unknown type. */
  private static KvEvent toEvent(Object raw, int index) throws KvEventDecodeException {
    List<?> fields;
    if (raw instanceof List<?> list) {
      fields = list;
    } else if (raw instanceof Map<?, ?> map) {
      fields = positional(map, index);
    } else {
      throw new KvEventDecodeException("event " + index + " is neither an array nor a map");
    }
    if (fields.isEmpty() || !(fields.get(0) instanceof String tag)) {
      throw new KvEventDecodeException("event " + index + " has no type tag");
    }
    return switch (tag) {
      case "BlockStored" -> blockStored(fields, index);
      case "BlockRemoved" -> blockRemoved(fields, index);
      case "AllBlocksCleared" -> new KvEvent.AllBlocksCleared();
      default -> null;
    };
  }

  /** A map-encoded event as the positional layout: its tag, then its fields in array order. */
  private static List<?> positional(Map<?, ?> map, int index) throws KvEventDecodeException {
    if (!(map.get(TAG) instanceof String tag)) {
      throw new KvEventDecodeException("map-encoded event " + index + " has no string \"" + TAG + "\"");
    }
    List<String> order = switch (tag) {
      case "BlockStored" -> BLOCK_STORED_FIELDS;
      case "BlockRemoved" -> BLOCK_REMOVED_FIELDS;
      default -> List.of();
    };
    List<Object> fields = new ArrayList<>(order.size() + 1);
    fields.add(tag);
    for (String name : order) {
      fields.add(map.get(name));
    }
    return fields;
  }

  private static KvEvent.BlockStored blockStored(List<?> fields, int index) throws KvEventDecodeException {
    String what = "BlockStored event " + index;
    if (fields.size() < 5) {
      throw new KvEventDecodeException(what + " has " + fields.size() + " fields, expected at least 5");
    }
    long[] hashes = hashes(fields.get(1), what);
    Object parent = fields.get(2);
    long parentHash = parent == null ? 0 : hash(parent, what + " parent_block_hash");
    int[] tokens = tokens(fields.get(3), what);
    if (!(fields.get(4) instanceof Long blockSize) || blockSize < 1 || blockSize > MAX_TOKENS) {
      throw new KvEventDecodeException(what + ": block_size is not an integer in 1.." + MAX_TOKENS);
    }
    String medium = medium(field(fields, 6), what);
    Object loraName = field(fields, 7);
    if (loraName != null && !(loraName instanceof String)) {
      throw new KvEventDecodeException(what + ": lora_name is not a string");
    }
    return new KvEvent.BlockStored(hashes, parentHash, parent != null, tokens, blockSize.intValue(),
        (String) loraName, medium, extraKeys(field(fields, 8), what));
  }

  private static KvEvent.BlockRemoved blockRemoved(List<?> fields, int index) throws KvEventDecodeException {
    String what = "BlockRemoved event " + index;
    if (fields.size() < 2) {
      throw new KvEventDecodeException(what + " has no block_hashes");
    }
    return new KvEvent.BlockRemoved(hashes(fields.get(1), what), medium(field(fields, 2), what));
  }

  private static Object field(List<?> fields, int i) {
    return i < fields.size() ? fields.get(i) : null;
  }

  private static long[] hashes(Object raw, String what) throws KvEventDecodeException {
    if (!(raw instanceof List<?> list)) {
      throw new KvEventDecodeException(what + ": block_hashes is not an array");
    }
    if (list.size() > MAX_HASHES) {
      throw new KvEventDecodeException(what + ": more than " + MAX_HASHES + " block hashes");
    }
    long[] hashes = new long[list.size()];
    for (int i = 0; i < hashes.length; i++) {
      hashes[i] = hash(list.get(i), what + " block_hashes[" + i + "]");
    }
    return hashes;
  }

  /** An engine hash: an integer's 64 bits, or the last 8 bytes of a byte string, big-endian. */
  static long hash(Object raw, String what) throws KvEventDecodeException {
    if (raw instanceof Long value) {
      return value;
    }
    if (raw instanceof byte[] bytes && bytes.length > 0) {
      long value = 0;
      for (int i = Math.max(0, bytes.length - Long.BYTES); i < bytes.length; i++) {
        value = (value << 8) | (bytes[i] & 0xff);
      }
      return value;
    }
    throw new KvEventDecodeException(what + " is neither an integer nor non-empty bytes");
  }

  private static int[] tokens(Object raw, String what) throws KvEventDecodeException {
    if (!(raw instanceof List<?> list)) {
      throw new KvEventDecodeException(what + ": token_ids is not an array");
    }
    int[] tokens = new int[list.size()];
    for (int i = 0; i < tokens.length; i++) {
      if (!(list.get(i) instanceof Long token) || token < 0 || token > Integer.MAX_VALUE) {
        throw new KvEventDecodeException(what + ": token_ids[" + i + "] is not a non-negative 32-bit integer");
      }
      tokens[i] = token.intValue();
    }
    return tokens;
  }

  private static String medium(Object raw, String what) throws KvEventDecodeException {
    if (raw == null) {
      return KvEvent.DEFAULT_MEDIUM;
    }
    if (!(raw instanceof String medium)) {
      throw new KvEventDecodeException(what + ": medium is not a string");
    }
    return medium.toLowerCase(Locale.ROOT);
  }

  /** Per-block extra keys; a block without any ({@code nil}) gets an empty list. */
  private static List<List<Object>> extraKeys(Object raw, String what) throws KvEventDecodeException {
    if (raw == null) {
      return List.of();
    }
    if (!(raw instanceof List<?> blocks)) {
      throw new KvEventDecodeException(what + ": extra_keys is not an array");
    }
    List<List<Object>> keys = new ArrayList<>(blocks.size());
    for (Object block : blocks) {
      if (block == null) {
        keys.add(List.of());
      } else if (block instanceof List<?> list) {
        keys.add(Collections.unmodifiableList(list));
      } else {
        throw new KvEventDecodeException(what + ": an extra_keys entry is neither an array nor nil");
      }
    }
    return Collections.unmodifiableList(keys);
  }

  /**
   * Reads msgpack values as plain Java objects: {@code null}, {@link Boolean}, {@link Long} (uint64 as its 64 bits),
   * {@link Double}, {@link String}, {@code byte[]}, {@link List} and {@link Map}, enforcing the limits.
   */
  private static final class Reader {
    private final MessageUnpacker in;
    private final long size;

    Reader(MessageUnpacker in, long size) {
      this.in = in;
      this.size = size;
    }

    int arrayHeader(int max) throws IOException, KvEventDecodeException {
      if (in.getNextFormat().getValueType() != ValueType.ARRAY) {
        throw new KvEventDecodeException("expected an array, found " + in.getNextFormat());
      }
      return checked(in.unpackArrayHeader(), max, 1);
    }

    Object value(int depth) throws IOException, KvEventDecodeException {
      MessageFormat format = in.getNextFormat();
      switch (format.getValueType()) {
        case NIL:
          in.unpackNil();
          return null;
        case BOOLEAN:
          return in.unpackBoolean();
        case INTEGER:
          return format == MessageFormat.UINT64 ? in.unpackBigInteger().longValue() : in.unpackLong();
        case FLOAT:
          return in.unpackDouble();
        case STRING:
          return new String(in.readPayload(checked(in.unpackRawStringHeader(), MAX_STRING_BYTES, 1)),
              StandardCharsets.UTF_8);
        case BINARY:
          return in.readPayload(checked(in.unpackBinaryHeader(), MAX_STRING_BYTES, 1));
        case ARRAY: {
          nest(depth);
          int n = checked(in.unpackArrayHeader(), MAX_TOKENS, 1);
          List<Object> list = new ArrayList<>(n);
          for (int i = 0; i < n; i++) {
            list.add(value(depth + 1));
          }
          return list;
        }
        case MAP: {
          nest(depth);
          int n = checked(in.unpackMapHeader(), MAX_TOKENS, 2);
          Map<Object, Object> map = new HashMap<>();
          for (int i = 0; i < n; i++) {
            Object key = value(depth + 1);
            map.put(key instanceof byte[] bytes ? new String(bytes, StandardCharsets.UTF_8) : key, value(depth + 1));
          }
          return map;
        }
        default:
          throw new KvEventDecodeException("unsupported msgpack type " + format);
      }
    }

    private static void nest(int depth) throws KvEventDecodeException {
      if (depth > MAX_DEPTH) {
        throw new KvEventDecodeException("nesting deeper than " + MAX_DEPTH);
      }
    }

    /** {@code length}, if at most {@code max} and not more than the bytes left allow. */
    private int checked(int length, int max, int minBytesEach) throws KvEventDecodeException {
      long left = size - in.getTotalReadBytes();
      if (length < 0 || length > max || (long) length * minBytesEach > left) {
        throw new KvEventDecodeException("length " + Integer.toUnsignedString(length) + " exceeds the limit "
            + max + " or the " + left + " bytes left");
      }
      return length;
    }
  }
}
