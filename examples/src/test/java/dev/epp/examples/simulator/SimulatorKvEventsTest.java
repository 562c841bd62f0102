package dev.epp.examples.simulator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.msgpack.core.MessagePack;
import org.msgpack.core.MessageUnpacker;
import org.msgpack.value.Value;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/** The simulator's KV-cache events, read by a real ZeroMQ subscriber on loopback and decoded with msgpack. */
class SimulatorKvEventsTest {

  private static final String MODEL = "sim-model";
  private static final int BLOCK_SIZE = 16;
  /** Two full blocks. */
  /**
   * KV blocks enough that the warm-up's fresh prompts (two blocks each, as many as the subscription takes to start
   * on a loaded machine) never make a test's own prompt evict.
   */
  private static final int ROOMY = 1024;
  private static final int PROMPT_CHARS = 2 * BLOCK_SIZE * SimulatedEngine.CHARS_PER_TOKEN;

  private final HttpClient client = HttpClient.newHttpClient();
  private final ZContext zmq = new ZContext();
  private SimulatorServer server;
  private ZMQ.Socket subscriber;
  private long lastSequence = -1;
  private int prompts;

  @AfterEach
  void close() {
    if (server != null) {
      server.close();
    }
    zmq.close();
  }

  /** A simulator with a cache of {@code kvBlocks} blocks whose subscriber has seen its first message. */
  private void start(int kvBlocks, KvEventPublisher.Encoding encoding) throws Exception {
    EngineConfig config = new EngineConfig(MODEL, List.of("lora-a"), 1, 4, kvBlocks, BLOCK_SIZE, 0, 0, 0);
    server = SimulatorServer.start(config, Role.BOTH, "pod-a", SimulatorServer.TextMode.RANDOM, 1,
        new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), new SimulatorServer.KvEvents(0, encoding));
    subscriber = zmq.createSocket(SocketType.SUB);
    subscriber.subscribe("kv@".getBytes(StandardCharsets.UTF_8));
    subscriber.setReceiveTimeOut(200);
    subscriber.connect("tcp://127.0.0.1:" + server.kvEventsPort());
    // a subscription takes effect asynchronously: send fresh prompts until their events arrive (polling on this
    // thread: a ZeroMQ socket belongs to one thread)
    Awaitility.await().atMost(Duration.ofSeconds(60)).pollInSameThread().until(() -> {
      complete(MODEL, freshPrompt(), 1);
      return receive(200) != null;
    });
    while (receive(500) != null) {
      // drain the rest of the warm-up
    }
  }

  private String freshPrompt() {
    String prefix = "warm-up " + prompts++ + " ";
    return prefix + "x".repeat(PROMPT_CHARS - prefix.length());
  }

  private void complete(String model, String prompt, int maxTokens) throws Exception {
    HttpResponse<String> response = client.send(HttpRequest.newBuilder(
            URI.create("http://127.0.0.1:" + server.port() + "/v1/completions"))
        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"" + model + "\",\"prompt\":\"" + prompt
            + "\",\"max_tokens\":" + maxTokens + "}")).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, response.statusCode(), response.body());
  }

  /** The events of the next message, or null if none arrives within {@code millis}; checks topic and sequence. */
  private List<Value> receive(int millis) throws IOException {
    subscriber.setReceiveTimeOut(millis);
    byte[] topic = subscriber.recv();
    if (topic == null) {
      return null;
    }
    assertEquals("kv@pod-a@" + MODEL, new String(topic, StandardCharsets.UTF_8));
    assertTrue(subscriber.hasReceiveMore());
    byte[] sequence = subscriber.recv();
    assertEquals(Long.BYTES, sequence.length);
    long number = ByteBuffer.wrap(sequence).getLong();
    if (lastSequence >= 0) {
      assertEquals(lastSequence + 1, number, "sequence numbers increase by one per message");
    }
    lastSequence = number;
    assertTrue(subscriber.hasReceiveMore());
    byte[] payload = subscriber.recv();
    assertTrue(!subscriber.hasReceiveMore());
    try (MessageUnpacker unpacker = MessagePack.newDefaultUnpacker(payload)) {
      List<Value> batch = unpacker.unpackValue().asArrayValue().list();
      assertEquals(3, batch.size());
      assertTrue(batch.get(0).isFloatValue(), "timestamp in float seconds");
      assertTrue(Math.abs(batch.get(0).asFloatValue().toDouble() - System.currentTimeMillis() / 1000.0) < 3600);
      assertTrue(batch.get(2).isNilValue(), "no data-parallel rank");
      return batch.get(1).asArrayValue().list();
    }
  }

  /** Every event until none arrives for a while. */
  private List<Value> receiveAll() throws IOException {
    List<Value> events = new ArrayList<>();
    List<Value> next = receive(5_000);
    while (next != null) {
      events.addAll(next);
      next = receive(500);
    }
    return events;
  }

  private static long[] hashes(Value value) {
    return value.asArrayValue().list().stream().mapToLong(v -> v.asIntegerValue().asBigInteger().longValue())
        .toArray();
  }

  private static int[] ints(Value value) {
    return value.asArrayValue().list().stream().mapToInt(v -> v.asIntegerValue().toInt()).toArray();
  }

  @Test
  void aNewPromptPublishesOneBlockStoredWithItsTokensInVllmsArrayLayout() throws Exception {
    start(ROOMY, KvEventPublisher.Encoding.ARRAY);
    String prompt = "a fresh prompt ".repeat(10).substring(0, PROMPT_CHARS);
    complete(MODEL, prompt, 1);

    List<Value> events = receiveAll();
    assertEquals(1, events.size(), events.toString());
    List<Value> stored = events.get(0).asArrayValue().list();
    TokenBlocks blocks = TokenBlocks.of(MODEL, null, prompt, BLOCK_SIZE);
    assertEquals("BlockStored", stored.get(0).asStringValue().asString());
    assertArrayEquals(blocks.hashes(), hashes(stored.get(1)));
    assertTrue(stored.get(2).isNilValue(), "the first block has no parent");
    assertArrayEquals(Arrays.copyOf(TokenBlocks.tokenIds(prompt), 2 * BLOCK_SIZE), ints(stored.get(3)));
    assertEquals(BLOCK_SIZE, stored.get(4).asIntegerValue().toInt());
    assertTrue(stored.get(5).isNilValue(), "lora_id");
    assertEquals("GPU", stored.get(6).asStringValue().asString());
    assertTrue(stored.get(7).isNilValue(), "no adapter");

    complete(MODEL, prompt, 1);
    assertEquals(null, receive(1_000), "a cached prompt stores nothing");
  }

  @Test
  void aContinuedPromptNamesItsParentAndAnAdapterItsName() throws Exception {
    start(ROOMY, KvEventPublisher.Encoding.ARRAY);
    String prompt = "b".repeat(PROMPT_CHARS);
    complete("lora-a", prompt, 1);
    receiveAll();
    String longer = prompt + "c".repeat(BLOCK_SIZE * SimulatedEngine.CHARS_PER_TOKEN);
    complete("lora-a", longer, 1);

    List<Value> events = receiveAll();
    assertEquals(1, events.size(), events.toString());
    List<Value> stored = events.get(0).asArrayValue().list();
    TokenBlocks blocks = TokenBlocks.of("lora-a", "lora-a", longer, BLOCK_SIZE);
    assertArrayEquals(new long[] {blocks.hashes()[2]}, hashes(stored.get(1)));
    assertEquals(blocks.hashes()[1], stored.get(2).asIntegerValue().asBigInteger().longValue());
    assertArrayEquals(blocks.blockTokens(2), ints(stored.get(3)));
    assertEquals("lora-a", stored.get(7).asStringValue().asString());
  }

  @Test
  void evictionPublishesBlockRemovedTailFirstAsBlocksAreNeeded() throws Exception {
    start(3, KvEventPublisher.Encoding.ARRAY); // a request of two full blocks and one private block fills the cache
    String first = "d".repeat(PROMPT_CHARS);
    complete(MODEL, first, 1);
    receiveAll();
    String second = "e".repeat(PROMPT_CHARS);
    complete(MODEL, second, 1);

    List<Value> events = receiveAll();
    List<String> tags = events.stream().map(e -> e.asArrayValue().get(0).asStringValue().asString()).toList();
    assertEquals(List.of("BlockStored", "BlockRemoved", "BlockStored", "BlockRemoved"), tags, events.toString());
    long[] evicted = TokenBlocks.of(MODEL, null, first, BLOCK_SIZE).hashes();
    long[] stored = TokenBlocks.of(MODEL, null, second, BLOCK_SIZE).hashes();
    assertArrayEquals(new long[] {stored[0]}, hashes(events.get(0).asArrayValue().get(1)));
    assertArrayEquals(new long[] {evicted[1]}, hashes(events.get(1).asArrayValue().get(1)), "the tail goes first");
    assertEquals("GPU", events.get(1).asArrayValue().get(2).asStringValue().asString());
    assertArrayEquals(new long[] {stored[1]}, hashes(events.get(2).asArrayValue().get(1)));
    assertEquals(stored[0], events.get(2).asArrayValue().get(2).asIntegerValue().asBigInteger().longValue());
    assertArrayEquals(new long[] {evicted[0]}, hashes(events.get(3).asArrayValue().get(1)));
  }

  @Test
  void mapEncodingTagsEventsUnderType() throws Exception {
    start(ROOMY, KvEventPublisher.Encoding.MAP);
    String prompt = "f".repeat(PROMPT_CHARS);
    complete(MODEL, prompt, 1);

    List<Value> events = receiveAll();
    assertEquals(1, events.size(), events.toString());
    Map<Value, Value> stored = events.get(0).asMapValue().map();
    Map<String, Value> fields = new java.util.HashMap<>();
    stored.forEach((k, v) -> fields.put(k.asStringValue().asString(), v));
    assertEquals("BlockStored", fields.get("type").asStringValue().asString());
    assertArrayEquals(TokenBlocks.of(MODEL, null, prompt, BLOCK_SIZE).hashes(), hashes(fields.get("block_hashes")));
    assertTrue(fields.get("parent_block_hash").isNilValue());
    assertArrayEquals(TokenBlocks.tokenIds(prompt), ints(fields.get("token_ids")));
    assertEquals(BLOCK_SIZE, fields.get("block_size").asIntegerValue().toInt());
    assertEquals("GPU", fields.get("medium").asStringValue().asString());
  }
}
