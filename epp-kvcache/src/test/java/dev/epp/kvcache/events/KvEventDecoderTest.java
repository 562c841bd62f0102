package dev.epp.kvcache.events;

import static dev.epp.kvcache.events.Msgpack.batch;
import static dev.epp.kvcache.events.Msgpack.list;
import static dev.epp.kvcache.events.Msgpack.map;
import static dev.epp.kvcache.events.Msgpack.pack;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class KvEventDecoderTest {

  private static final byte[] TOPIC = "kv@pod-a@meta-llama/Llama-3.1-8B".getBytes(StandardCharsets.UTF_8);

  private static KvEventDecoder.Message decode(byte[] payload) throws KvEventDecodeException {
    return KvEventDecoder.decode(TOPIC, payload);
  }

  @Test
  void arrayEncodedBlockStoredWithEveryField() throws Exception {
    KvEventDecoder.Message m = decode(batch(list("BlockStored", list(11L, 12L), 10L, list(1L, 2L, 3L, 4L), 2L,
        7L, "CPU", "sql-lora", list(list("mm-hash", 3L), null), 0L, "full_attention")));
    assertEquals("pod-a", m.podId());
    assertEquals("meta-llama/Llama-3.1-8B", m.model());
    KvEvent.BlockStored e = assertInstanceOf(KvEvent.BlockStored.class, m.events().get(0));
    assertArrayEquals(new long[] {11, 12}, e.engineBlockHashes());
    assertEquals(10L, e.parentEngineBlockHash());
    assertTrue(e.hasParent());
    assertArrayEquals(new int[] {1, 2, 3, 4}, e.tokenIds());
    assertEquals(2, e.blockSize());
    assertEquals("sql-lora", e.loraName());
    assertEquals("cpu", e.medium());
    assertEquals(List.of(List.of("mm-hash", 3L), List.of()), e.extraKeys());
  }

  @Test
  void arrayEncodedBlockStoredWithTrailingDefaultsOmitted() throws Exception {
    KvEvent.BlockStored e = (KvEvent.BlockStored) decode(batch(list("BlockStored", list(5L), null,
        list(9L, 8L), 2L))).events().get(0);
    assertFalse(e.hasParent());
    assertEquals(KvEvent.DEFAULT_MEDIUM, e.medium());
    assertEquals(null, e.loraName());
    assertEquals(List.of(), e.extraKeys());
  }

  @Test
  void mapEncodedEventsTaggedByType() throws Exception {
    KvEventDecoder.Message m = decode(batch(
        map("type", "BlockStored", "token_ids", list(1L, 2L), "block_hashes", list(21L), "block_size", 2L,
            "parent_block_hash", null, "medium", "GPU", "group_idx", 0L),
        map("block_hashes", list(21L), "type", "BlockRemoved", "medium", "cpu"),
        map("type", "AllBlocksCleared")));
    KvEvent.BlockStored stored = (KvEvent.BlockStored) m.events().get(0);
    assertArrayEquals(new long[] {21}, stored.engineBlockHashes());
    assertArrayEquals(new int[] {1, 2}, stored.tokenIds());
    assertEquals("gpu", stored.medium());
    KvEvent.BlockRemoved removed = (KvEvent.BlockRemoved) m.events().get(1);
    assertArrayEquals(new long[] {21}, removed.engineBlockHashes());
    assertEquals("cpu", removed.medium());
    assertEquals(new KvEvent.AllBlocksCleared(), m.events().get(2));
  }

  @Test
  void hashesAsUint64AboveTwoToThe63AndAsBytes() throws Exception {
    BigInteger max = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);
    BigInteger high = BigInteger.ONE.shiftLeft(63).add(BigInteger.valueOf(5));
    byte[] sha = new byte[32];
    Arrays.fill(sha, (byte) 0xaa);
    sha[31] = 0x01;
    KvEvent.BlockRemoved e = (KvEvent.BlockRemoved) decode(batch(list("BlockRemoved",
        list(max, high, sha, new byte[] {0x01, 0x02}, -3L)))).events().get(0);
    assertArrayEquals(new long[] {-1L, Long.MIN_VALUE + 5, 0xaaaaaaaaaaaaaa01L, 0x0102L, -3L},
        e.engineBlockHashes());
  }

  @Test
  void unknownEventTypesAreSkippedAndCounted() throws Exception {
    KvEventDecoder.Message m = decode(batch(list("BlockMoved", list(1L), "x"), map("type", "Future", "a", 1L),
        list("AllBlocksCleared")));
    assertEquals(List.of(new KvEvent.AllBlocksCleared()), m.events());
    assertEquals(2, m.unknownEvents());
  }

  @Test
  void topicWithoutPodAndModelIsThePodId() throws Exception {
    KvEventDecoder.Message m = KvEventDecoder.decode("kv".getBytes(StandardCharsets.UTF_8), batch());
    assertEquals("kv", m.podId());
    assertEquals("", m.model());
  }

  @Test
  void sequenceIsEightBytesBigEndian() throws Exception {
    assertEquals(0x0102030405060708L, KvEventDecoder.sequence(new byte[] {1, 2, 3, 4, 5, 6, 7, 8}));
    assertEquals(-1L, KvEventDecoder.sequence(new byte[] {-1, -1, -1, -1, -1, -1, -1, -1}));
    assertThrows(KvEventDecodeException.class, () -> KvEventDecoder.sequence(new byte[] {1, 2, 3}));
  }

  @Test
  void malformedPayloadsAreRejected() {
    byte[] valid = batch(list("BlockStored", list(1L), null, list(1L, 2L), 2L));
    List<byte[]> bad = List.of(
        new byte[0],
        "not msgpack at all".getBytes(StandardCharsets.UTF_8),
        Arrays.copyOf(valid, valid.length - 3),
        Arrays.copyOf(valid, valid.length - 1),
        pack(list(1.0)),
        pack(map("ts", 1.0)),
        batch("BlockStored"),
        batch(list()),
        batch(list(5L)),
        batch(list("BlockStored", list(1L), null, list(1L, 2L))),
        batch(list("BlockStored", list(1L), null, list(-1L), 2L)),
        batch(list("BlockStored", list(1L), null, list(1L, 2L), 0L)),
        batch(list("BlockStored", list("x"), null, list(1L, 2L), 2L)),
        batch(list("BlockStored", list(new byte[0]), null, list(1L, 2L), 2L)),
        batch(list("BlockRemoved", list(1L), 5L)),
        batch(map("block_hashes", list(1L))),
        new byte[] {(byte) 0x92, (byte) 0xcb, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xdd, (byte) 0xff, (byte) 0xff,
            (byte) 0xff, (byte) 0xff},
        new byte[] {(byte) 0x92, 0x01, (byte) 0x91, (byte) 0x95, (byte) 0xab, 'B', 'l', 'o', 'c', 'k', 'S', 't',
            'o', 'r', 'e', 'd', (byte) 0x90, (byte) 0xc0, (byte) 0xdd, 0x7f, (byte) 0xff, (byte) 0xff,
            (byte) 0xff},
        new byte[] {(byte) 0x92, 0x01, (byte) 0x91, (byte) 0xdb, 0x7f, (byte) 0xff, (byte) 0xff, (byte) 0xff},
        deeplyNested(100_000));
    for (int i = 0; i < bad.size(); i++) {
      int index = i;
      assertThrows(KvEventDecodeException.class, () -> decode(bad.get(index)), "payload " + i);
    }
  }

  @Test
  void limitsAreEnforced() {
    Object[] events = new Object[KvEventDecoder.MAX_EVENTS + 1];
    Arrays.fill(events, list("AllBlocksCleared"));
    assertThrows(KvEventDecodeException.class, () -> decode(batch(events)));
    Object[] hashes = new Object[KvEventDecoder.MAX_HASHES + 1];
    Arrays.fill(hashes, 1L);
    assertThrows(KvEventDecodeException.class, () -> decode(batch(list("BlockRemoved", list(hashes)))));
    assertThrows(KvEventDecodeException.class,
        () -> decode(new byte[KvEventDecoder.MAX_PAYLOAD_BYTES + 1]));
  }

  /** {@code [ts, [[[[...]]]]]}: {@code depth} nested one-element arrays. */
  static byte[] deeplyNested(int depth) {
    byte[] payload = new byte[2 + depth + 1];
    payload[0] = (byte) 0x92;
    payload[1] = 0x01;
    Arrays.fill(payload, 2, 2 + depth, (byte) 0x91);
    payload[payload.length - 1] = (byte) 0xc0;
    return payload;
  }
}
