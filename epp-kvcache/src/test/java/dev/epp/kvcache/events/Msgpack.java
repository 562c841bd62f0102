package dev.epp.kvcache.events;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.msgpack.core.MessageBufferPacker;
import org.msgpack.core.MessagePack;
import org.msgpack.core.MessagePacker;

/** Builds msgpack payloads as vLLM publishes them, from plain values, with msgpack-core's packer. */
final class Msgpack {

  private Msgpack() {}

  /** A list that may hold {@code null}. */
  static List<Object> list(Object... values) {
    return Arrays.asList(values);
  }

  /** A map in insertion order from alternating keys and values. */
  static Map<String, Object> map(Object... keysAndValues) {
    Map<String, Object> map = new LinkedHashMap<>();
    for (int i = 0; i < keysAndValues.length; i += 2) {
      map.put((String) keysAndValues[i], keysAndValues[i + 1]);
    }
    return map;
  }

  /** vLLM's event batch {@code [ts, events, dp_rank]}. */
  static byte[] batch(Object... events) {
    return pack(list(1717000000.25, list(events), 0L));
  }

  /** {@code value} packed: lists as arrays, maps as maps, {@link BigInteger} as uint64, {@code byte[]} as bin. */
  static byte[] pack(Object value) {
    try (MessageBufferPacker packer = MessagePack.newDefaultBufferPacker()) {
      write(packer, value);
      return packer.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void write(MessagePacker p, Object value) throws IOException {
    if (value == null) {
      p.packNil();
    } else if (value instanceof String s) {
      p.packString(s);
    } else if (value instanceof Long l) {
      p.packLong(l);
    } else if (value instanceof Integer i) {
      p.packInt(i);
    } else if (value instanceof BigInteger b) {
      p.packBigInteger(b);
    } else if (value instanceof Double d) {
      p.packDouble(d);
    } else if (value instanceof Boolean b) {
      p.packBoolean(b);
    } else if (value instanceof byte[] bytes) {
      p.packBinaryHeader(bytes.length);
      p.writePayload(bytes);
    } else if (value instanceof List<?> list) {
      p.packArrayHeader(list.size());
      for (Object element : list) {
        write(p, element);
      }
    } else if (value instanceof Map<?, ?> map) {
      p.packMapHeader(map.size());
      for (Map.Entry<?, ?> e : map.entrySet()) {
        write(p, e.getKey());
        write(p, e.getValue());
      }
    } else {
      throw new IllegalArgumentException("cannot pack " + value.getClass());
    }
  }
}
