package dev.epp.kvcache.events;

import static dev.epp.kvcache.events.Msgpack.batch;
import static dev.epp.kvcache.events.Msgpack.list;
import static dev.epp.kvcache.events.Msgpack.map;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.Endpoint;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class KvEventSubscribersTest {

  private static final String MODEL = "meta-llama/Llama-3.1-8B";

  private final RecordingSink sink = new RecordingSink();
  private final CountingMetrics metrics = new CountingMetrics();
  private final List<AutoCloseable> resources = new ArrayList<>();

  @AfterEach
  void closeResources() throws Exception {
    sink.release(); // a failed test must not leave a worker blocked in the sink
    for (int i = resources.size() - 1; i >= 0; i--) {
      resources.get(i).close();
    }
  }

  private static ConditionFactory eventually() {
    return await().atMost(Duration.ofSeconds(60));
  }

  private Publisher publisher(String pod) {
    Publisher p = new Publisher(pod);
    resources.add(p);
    return p;
  }

  private KvEventSubscribers subscribers(int socketPort, int concurrency, int queueCapacity) {
    KvEventSubscribers s = KvEventSubscribers.builder(sink).socketPort(socketPort).concurrency(concurrency)
        .queueCapacity(queueCapacity).metrics(metrics).build();
    resources.add(s);
    return s;
  }

  /** A subscriber to {@code pub} for the endpoint {@code name}, past the slow-joiner handshake. */
  private KvEventSubscribers subscribed(Publisher pub, String name) {
    KvEventSubscribers s = subscribers(pub.port(), 2, 1024);
    s.subscribe(Endpoint.of(name, "127.0.0.1", 8000));
    pub.handshake(sink, name);
    return s;
  }

  @Test
  void deliversBothEncodingsAndBothHashFormsInOrder() {
    Publisher pub = publisher("pod-a");
    subscribed(pub, "a");
    BigInteger high = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.TWO);
    byte[] sha = new byte[32];
    sha[31] = 7;
    pub.publish(MODEL, batch(list("BlockStored", list(high, sha), 3L, list(1L, 2L, 3L, 4L), 2L)));
    pub.publish(MODEL, batch(map("type", "BlockRemoved", "block_hashes", list(sha), "medium", "CPU")));

    eventually().until(() -> sink.applies("a", MODEL).size() == 2);
    List<RecordingSink.Call> applies = sink.applies("a", MODEL);
    KvEvent.BlockStored stored = assertInstanceOf(KvEvent.BlockStored.class, applies.get(0).events().get(0));
    assertArrayEquals(new long[] {-2L, 7L}, stored.engineBlockHashes());
    assertArrayEquals(new int[] {1, 2, 3, 4}, stored.tokenIds());
    assertEquals(new KvEvent.BlockRemoved(new long[] {7L}, "cpu").medium(),
        ((KvEvent.BlockRemoved) applies.get(1).events().get(0)).medium());
    assertArrayEquals(new long[] {7L}, ((KvEvent.BlockRemoved) applies.get(1).events().get(0)).engineBlockHashes());
    assertEquals(0, metrics.gaps("a"));
  }

  @Test
  void unknownEventTypesAreSkippedAndCounted() {
    Publisher pub = publisher("pod-a");
    subscribed(pub, "a");
    pub.publish(MODEL, batch(list("BlockMigrated", list(1L)), list("AllBlocksCleared")));

    eventually().until(() -> sink.applies("a", MODEL).size() == 1);
    assertEquals(List.of(new KvEvent.AllBlocksCleared()), sink.applies("a", MODEL).get(0).events());
    assertEquals(1, metrics.dropped("a", KvEventWorker.UNKNOWN_EVENT));
  }

  @Test
  void sequenceGapClearsTheEndpointBeforeApplying() {
    Publisher pub = publisher("pod-a");
    subscribed(pub, "a");
    long clearsBefore = sink.clears("a");
    pub.publish(MODEL, pub.nextSequence() + 5, batch(list("AllBlocksCleared")));

    eventually().until(() -> sink.applies("a", MODEL).size() == 1);
    List<RecordingSink.Call> calls = sink.calls("a");
    assertTrue(calls.get(calls.size() - 2).isClear(), "clear before the message after the gap: " + calls);
    assertEquals(clearsBefore + 1, sink.clears("a"));
    assertEquals(1, metrics.gaps("a"));
  }

  @Test
  void withReplayLostMessagesAreReplayedInOrderWithoutClearing() {
    Publisher pub = publisher("pod-a");
    KvEventSubscribers subs = KvEventSubscribers.builder(sink).socketPort(pub.port())
        .replaySocketPort(pub.startReplay()).metrics(metrics).build();
    resources.add(subs);
    subs.subscribe(Endpoint.of("a", "127.0.0.1", 8000));
    pub.handshake(sink, "a");
    long clearsBefore = sink.clears("a");
    pub.lose("lost-1", batch(list("AllBlocksCleared")));
    pub.lose("lost-2", batch(list("AllBlocksCleared")));
    pub.publish(MODEL, batch(list("AllBlocksCleared")));

    eventually().until(() -> sink.applies("a", MODEL).size() == 1);
    List<String> models = sink.calls("a").stream().map(RecordingSink.Call::model).toList();
    assertEquals(List.of("lost-1", "lost-2", MODEL), models.subList(models.size() - 3, models.size()));
    assertEquals(clearsBefore, sink.clears("a"));
    assertEquals(1, metrics.gaps("a"));
  }

  @Test
  void withReplayMessagesPublishedBeforeJoiningAreReplayed() {
    Publisher pub = publisher("pod-a");
    int replayPort = pub.startReplay();
    pub.lose("before-join", batch(list("AllBlocksCleared")));
    KvEventSubscribers subs = KvEventSubscribers.builder(sink).socketPort(pub.port())
        .replaySocketPort(replayPort).metrics(metrics).build();
    resources.add(subs);
    subs.subscribe(Endpoint.of("a", "127.0.0.1", 8000));
    pub.handshake(sink, "a");

    assertEquals("before-join", sink.calls("a").get(0).model());
    assertEquals(0, sink.clears("a"));
  }

  @Test
  void aFailedReplayClearsTheEndpoint() {
    Publisher pub = publisher("pod-a");
    KvEventSubscribers subs = KvEventSubscribers.builder(sink).socketPort(pub.port())
        .replaySocketPort(pub.startReplay()).metrics(metrics).build();
    resources.add(subs);
    subs.subscribe(Endpoint.of("a", "127.0.0.1", 8000));
    pub.handshake(sink, "a");
    long clearsBefore = sink.clears("a");
    // Not even in the replay buffer: the replay ends early.
    pub.publish(MODEL, pub.nextSequence() + 3, batch(list("AllBlocksCleared")));

    eventually().until(() -> sink.applies("a", MODEL).size() == 1);
    List<RecordingSink.Call> calls = sink.calls("a");
    assertTrue(calls.get(calls.size() - 2).isClear(), calls.toString());
    assertEquals(clearsBefore + 1, sink.clears("a"));
  }

  @Test
  void aThrowingSinkIsCountedAndLaterEventsStillArrive() {
    Publisher pub = publisher("pod-a");
    subscribed(pub, "a");
    pub.publish(RecordingSink.FAILING_MODEL, batch(list("AllBlocksCleared")));
    pub.publish(MODEL, batch(list("AllBlocksCleared")));

    eventually().until(() -> sink.applies("a", MODEL).size() == 1);
    assertEquals(1, metrics.dropped("a", KvEventWorker.SINK_ERROR));
  }

  @Test
  void unsubscribeClosesTheSocketAndClears() {
    Publisher pub = publisher("pod-a");
    KvEventSubscribers subs = subscribed(pub, "a");
    long clearsBefore = sink.clears("a");
    subs.unsubscribe("a");
    eventually().until(() -> sink.clears("a") == clearsBefore + 1);
    long receivedAfterUnsubscribe = metrics.received("a");

    // Another endpoint on the same publisher proves later messages are flowing.
    subs.subscribe(Endpoint.of("b", "127.0.0.1", 8000));
    pub.handshake(sink, "b");
    pub.publish(MODEL, batch(list("AllBlocksCleared")));
    eventually().until(() -> sink.applies("b", MODEL).size() == 1);

    assertEquals(receivedAfterUnsubscribe, metrics.received("a"));
    assertEquals(List.of(), sink.applies("a", MODEL));
    assertTrue(sink.calls("a").get(sink.calls("a").size() - 1).isClear());
  }

  @Test
  void addressChangeMovesTheSubscription() {
    Publisher first = publisher("pod-a");
    Publisher second = new Publisher("pod-a2", "127.0.0.2", first.port());
    resources.add(second);
    KvEventSubscribers subs = subscribed(first, "a");
    long clearsBefore = sink.clears("a");

    subs.subscribe(Endpoint.of("a", "127.0.0.2", 8000));
    second.handshake(sink, "a");
    assertEquals(clearsBefore + 1, sink.clears("a"));
    long applied = sink.calls("a").size();
    first.publish(MODEL, batch(list("AllBlocksCleared")));
    second.publish("second", batch(list("AllBlocksCleared")));
    eventually().until(() -> sink.applies("a", "second").size() == 1);
    assertEquals(List.of(), sink.applies("a", MODEL));
    assertEquals(applied + 1, sink.calls("a").size());
  }

  @Test
  void hostilePublisherIsCountedAndDoesNotStopLaterEvents() {
    Publisher pub = publisher("pod-a");
    subscribed(pub, "a");
    byte[] topic = ("kv@pod-a@" + MODEL).getBytes(StandardCharsets.UTF_8);
    byte[] seq = new byte[8];
    byte[] valid = batch(list("AllBlocksCleared"));
    pub.frames("kv@garbage".getBytes(StandardCharsets.UTF_8));
    pub.frames(topic, seq);
    pub.frames(topic, seq, valid, valid);
    pub.frames(topic, new byte[] {1, 2, 3}, valid);
    pub.publish(MODEL, "\u0000\u00ff garbage".getBytes(StandardCharsets.ISO_8859_1));
    pub.publish(MODEL, java.util.Arrays.copyOf(valid, valid.length - 1));
    pub.publish(MODEL, new byte[] {(byte) 0x92, 0x01, (byte) 0xdd, (byte) 0xff, (byte) 0xff, (byte) 0xff,
        (byte) 0xff});
    pub.publish(MODEL, KvEventDecoderTest.deeplyNested(1_000_000));
    pub.publish("after", valid);

    eventually().until(() -> sink.applies("a", "after").size() == 1);
    assertEquals(8, metrics.dropped("a", KvEventWorker.MALFORMED));
    assertEquals(List.of(), sink.applies("a", MODEL));
  }

  @Test
  void aFloodBeyondTheQueueBoundIsDroppedAndCounted() {
    Publisher pub = publisher("pod-a");
    int capacity = 8;
    KvEventSubscribers subs = subscribers(pub.port(), 1, capacity);
    subs.subscribe(Endpoint.of("a", "127.0.0.1", 8000));
    pub.handshake(sink, "a");
    long receivedBefore = metrics.received("a");
    int flood = 2_000;
    for (int i = 0; i < flood; i++) {
      pub.publish(RecordingSink.BLOCKING_MODEL, batch(list("AllBlocksCleared")));
    }

    eventually().until(() -> metrics.received("a") - receivedBefore == flood);
    long dropped = metrics.dropped("a", KvEventWorker.QUEUE_FULL);
    assertTrue(dropped >= flood - capacity - 1, "dropped " + dropped);
    sink.release();
    eventually().until(() -> sink.applies("a", RecordingSink.BLOCKING_MODEL).size() == flood - dropped);
    assertTrue(flood - dropped <= capacity + 1, "applied " + (flood - dropped));

    pub.publish(MODEL, batch(list("AllBlocksCleared")));
    eventually().until(() -> sink.applies("a", MODEL).size() == 1);
    assertTrue(metrics.gaps("a") >= 1, "messages lost to the full queue are a sequence gap");
  }

  @Test
  void threadsStayConstantWith200Endpoints() {
    Publisher pub = publisher("pod-live");
    KvEventSubscribers subs = subscribers(pub.port(), 2, 1024);
    subs.subscribe(Endpoint.of("live", "127.0.0.1", 8000));
    pub.handshake(sink, "live");
    List<String> before = threadNames();

    for (int i = 0; i < 200; i++) {
      // rank 1: socketPort + 1, where nothing listens
      subs.subscribe(Endpoint.of("idle-" + i + "-rank-1", "127.0.0.1", 8000));
    }
    pub.publish(MODEL, batch(list("AllBlocksCleared")));
    eventually().until(() -> sink.applies("live", MODEL).size() == 1);
    subs.unsubscribe("idle-0-rank-1");
    eventually().until(() -> sink.clears("idle-0-rank-1") == 1);

    // no thread was added (threads of earlier tests, such as idle HTTP client workers, may end meanwhile)
    List<String> added = new ArrayList<>(threadNames());
    before.forEach(added::remove);
    assertEquals(List.of(), added);
    assertEquals(3, before.stream().filter(n -> n.startsWith(KvEventSubscribers.THREAD_PREFIX)).count(), before.toString());
    subs.close();
    assertEquals(0, threadNames().stream().filter(n -> n.startsWith(KvEventSubscribers.THREAD_PREFIX)).count());
  }

  @Test
  void anEndpointThatCannotBeConnectedDoesNotStopTheOthers() {
    Publisher pub = publisher("pod-a");
    KvEventSubscribers subs = subscribers(pub.port(), 1, 16);
    subs.subscribe(Endpoint.of("bad", "no such host!", 8000));
    subs.subscribe(Endpoint.of("a", "127.0.0.1", 8000));
    pub.handshake(sink, "a");
    assertEquals(List.of(), sink.calls("bad"));
  }

  @Test
  void closeIsIdempotentAndRefusesLaterSubscriptions() {
    KvEventSubscribers subs = subscribers(5557, 1, 16);
    subs.close();
    subs.close();
    assertThrows(IllegalStateException.class, () -> subs.subscribe(Endpoint.of("a", "127.0.0.1", 8000)));
  }

  @Test
  void rankComesFromTheEndpointName() {
    assertEquals(0, KvEventSubscribers.rank(Endpoint.of("pod-a", "10.0.0.1", 8000)));
    assertEquals(3, KvEventSubscribers.rank(Endpoint.of("pod-a-rank-3", "10.0.0.1", 8001)));
    KvEventSubscribers subs = subscribers(65535, 1, 16);
    assertThrows(IllegalArgumentException.class, () -> subs.subscribe(Endpoint.of("p-rank-1", "10.0.0.1", 8000)));
    assertThrows(IllegalArgumentException.class, () -> KvEventSubscribers.builder(sink).socketPort(0));
    assertThrows(IllegalArgumentException.class, () -> KvEventSubscribers.builder(sink).replaySocketPort(70000));
    assertThrows(IllegalArgumentException.class, () -> KvEventSubscribers.builder(sink).concurrency(0));
  }

  @Test
  void aPortLabelOverridesSocketPortForServersSharingAnAddress() {
    Publisher pub = publisher("pod-a");
    KvEventSubscribers subs = subscribers(5557, 1, 16); // nothing listens there
    subs.subscribe(new Endpoint("a", "127.0.0.1", 8000,
        Map.of(KvEventSubscribers.PORT_LABEL, Integer.toString(pub.port()))));
    pub.handshake(sink, "a");
    pub.publish(MODEL, batch(list("AllBlocksCleared")));
    eventually().until(() -> sink.applies("a", MODEL).stream().anyMatch(
        call -> call.events().stream().anyMatch(KvEvent.AllBlocksCleared.class::isInstance)));
  }

  /** Names of the live threads, sorted, without JUnit's and Awaitility's own. */
  private static List<String> threadNames() {
    return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
        .filter(n -> !n.startsWith("awaitility") && !n.startsWith("ForkJoinPool")).sorted().toList();
  }
}
