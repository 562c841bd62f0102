package dev.epp.redis;

import static dev.epp.testkit.Fixtures.endpoint;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.InferenceRequest;
import dev.epp.api.MetricsRecorder;
import dev.epp.api.MetricsRecorder.PrefixIndexSync;
import dev.epp.api.RequestBody;
import dev.epp.api.RequestContext;
import dev.epp.api.TypedName;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.ProfileResult;
import dev.epp.api.scheduling.SchedulingResult;
import dev.epp.scheduler.ConfigException;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.scheduler.plugins.prefix.ApproxPrefixCacheProducer;
import dev.epp.scheduler.plugins.prefix.PrefixMatch;
import dev.epp.testkit.Fixtures;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Replicas, each an {@link EndpointPickerConfig} with an {@code approx-prefix-cache-producer} and a
 * {@value RedisPrefixIndexSync#TYPE}, sharing a real {@code redis-server}.
 */
class RedisPrefixIndexSyncTest {

  private static final String PROMPT = "The quick brown fox jumps over the lazy dog, again and again and again.";
  private static final Duration WAIT = Duration.ofSeconds(30);

  @TempDir
  Path dir;

  private final List<AutoCloseable> toClose = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
  }

  private RedisServer redis() throws Exception {
    RedisServer redis = RedisServer.start(dir.resolve("redis"));
    toClose.add(redis);
    return redis;
  }

  private static String yaml(String syncParameters) {
    return """
        apiVersion: llm-d.ai/v1alpha1
        kind: EndpointPickerConfig
        plugins:
        - type: approx-prefix-cache-producer
          parameters:
            autoTune: false
            blockSizeTokens: 1
        - type: redis-prefix-index-sync
          parameters:
        %s
        - type: max-score-picker
        schedulingProfiles:
        - name: default
          plugins:
          - pluginRef: max-score-picker
        """.formatted(syncParameters.indent(4).stripTrailing());
  }

  /** A replica sharing through the Redis at {@code address}; closed after the test. */
  private Replica replicaAt(String address) {
    return replica("address: " + address);
  }

  /** A replica with the {@value RedisPrefixIndexSync#TYPE} parameters {@code syncParameters}; closed after the test. */
  private Replica replica(String syncParameters) {
    Map<PrefixIndexSync, LongAdder> recorded = new EnumMap<>(PrefixIndexSync.class);
    for (PrefixIndexSync outcome : PrefixIndexSync.values()) {
      recorded.put(outcome, new LongAdder());
    }
    MetricsRecorder metrics = new MetricsRecorder() {
      @Override
      public void recordPrefixIndexSync(TypedName plugin, PrefixIndexSync outcome, long entries) {
        assertEquals(new TypedName(RedisPrefixIndexSync.TYPE, RedisPrefixIndexSync.TYPE), plugin);
        recorded.get(outcome).add(entries);
      }
    };
    EndpointPickerConfig config = EndpointPickerConfig.loader().metrics(metrics).parse(yaml(syncParameters), "replica");
    toClose.add(config::close);
    return new Replica(config, recorded);
  }

  /** A replica's configuration and the prefix index sync counts it recorded as metrics. */
  private record Replica(EndpointPickerConfig config, Map<PrefixIndexSync, LongAdder> recorded) {

    long recorded(PrefixIndexSync outcome) {
      return recorded.get(outcome).sum();
    }

    ApproxPrefixCacheProducer producer() {
      return (ApproxPrefixCacheProducer) config.plugin(ApproxPrefixCacheProducer.TYPE).orElseThrow();
    }

    RedisPrefixIndexSync sync() {
      return (RedisPrefixIndexSync) config.plugin(RedisPrefixIndexSync.TYPE).orElseThrow();
    }

    /** Routes {@code prompt} to endpoint {@code target} of three, as the replica's Director would record it. */
    void route(String prompt, int target) {
      RequestContext context = context(prompt);
      producer().prepareData(context, candidates());
      producer().preRequest(context, new SchedulingResult("default",
          Map.of("default", new ProfileResult(List.of(endpoint(target))))));
    }

    /** How many leading blocks of {@code prompt} endpoint {@code target} holds, by this replica's index. */
    int matched(String prompt, int target) {
      RequestContext context = context(prompt);
      producer().prepareData(context, candidates());
      return context.get(PrefixMatch.KEY).matchedBlocks(target);
    }

    private static RequestContext context(String prompt) {
      return new RequestContext(InferenceRequest.builder().requestId("r").model("m")
          .body(RequestBody.completion(prompt)).build());
    }

    private static Candidates candidates() {
      return Fixtures.unscraped(3);
    }
  }

  private static int blocks(String prompt) {
    return (prompt.length() + 3) / 4;
  }

  @Test
  void aRequestRoutedThroughOneReplicaIsMatchedByTheOther() throws Exception {
    RedisServer redis = redis();
    Replica a = replicaAt(redis.address());
    Replica b = replicaAt(redis.address());

    a.route(PROMPT, 2);

    await().atMost(WAIT).until(() -> b.matched(PROMPT, 2) == blocks(PROMPT));
    assertEquals(0, b.matched(PROMPT, 1));
    b.route("Another prompt routed by the other replica", 1);
    await().atMost(WAIT).until(() -> a.matched("Another prompt routed by the other replica", 1) > 0);
    await().atMost(WAIT).until(() -> a.sync().published() == 1 && b.sync().published() == 1);
    // Each applies the other's entry only: its own were indexed once, locally.
    await().atMost(WAIT).until(() -> a.sync().applied() == 1 && b.sync().applied() == 1);
    assertEquals(2, redis.streamLength(RedisPrefixIndexSync.DEFAULT_STREAM_KEY));
    assertEquals(0, a.sync().dropped() + b.sync().dropped());
    assertEquals(List.of(1L, 1L, 0L), List.of(a.recorded(PrefixIndexSync.PUBLISHED),
        a.recorded(PrefixIndexSync.APPLIED), a.recorded(PrefixIndexSync.DROPPED)));
  }

  @Test
  void ownEntriesAreNotAppliedAgain() throws Exception {
    RedisServer redis = redis();
    Replica a = replicaAt(redis.address());
    Replica b = replicaAt(redis.address());
    a.route(PROMPT, 0);
    await().atMost(WAIT).until(() -> b.sync().applied() == 1);
    String marker = "routed by b after a's entry";
    b.route(marker, 1);

    // a has read past its own entry once it sees b's later one, and applied b's only.
    await().atMost(WAIT).until(() -> a.matched(marker, 1) == blocks(marker));
    assertEquals(1, a.sync().applied());
    assertEquals(1, a.sync().published());
  }

  @Test
  void aReplicaStartedLaterWarmsUpFromTheHistory() throws Exception {
    RedisServer redis = redis();
    Replica a = replicaAt(redis.address());
    a.route(PROMPT, 1);
    a.route("a second conversation", 2);
    await().atMost(WAIT).until(() -> redis.streamLength(RedisPrefixIndexSync.DEFAULT_STREAM_KEY) == 2);

    Replica late = replicaAt(redis.address());

    await().atMost(WAIT).until(() -> late.matched(PROMPT, 1) == blocks(PROMPT)
        && late.matched("a second conversation", 2) == blocks("a second conversation"));
    assertEquals(2, late.sync().applied());
  }

  @Test
  void routingWorksWhileRedisIsDownAndSharingResumesWhenItIsBack() throws Exception {
    RedisServer redis = redis();
    redis.kill();
    Replica a = replicaAt(redis.address());
    Replica b = replicaAt(redis.address());

    CompletableFuture<Void> routed = CompletableFuture.runAsync(() -> {
      for (int i = 0; i < 200; i++) {
        a.route(PROMPT + i, i % 3);
      }
    });
    await().atMost(WAIT).until(routed::isDone);
    routed.join();
    assertEquals(blocks(PROMPT), a.matched(PROMPT + 0, 0));
    await().atMost(WAIT).until(() -> a.sync().dropped() == 200);
    assertEquals(0, a.sync().published());

    redis.restart();
    await().atMost(WAIT).until(() -> {
      a.route(PROMPT, 1);
      return b.matched(PROMPT, 1) == blocks(PROMPT);
    });

    redis.kill();
    long droppedBefore = a.sync().dropped();
    CompletableFuture<Void> routedAgain = CompletableFuture.runAsync(() -> a.route("while down again", 2));
    await().atMost(WAIT).until(routedAgain::isDone);
    await().atMost(WAIT).until(() -> a.sync().dropped() > droppedBefore);

    redis.restart();
    await().atMost(WAIT).until(() -> {
      a.route("after the second outage", 0);
      return b.matched("after the second outage", 0) == blocks("after the second outage");
    });
  }

  @Test
  void aHangingRedisDoesNotStallRoutingAndSharingResumesWhenItAnswersAgain() throws Exception {
    RedisServer redis = redis();
    Replica a = replicaAt(redis.address());
    Replica b = replicaAt(redis.address());
    a.route("before the hang", 0);
    await().atMost(WAIT).until(() -> b.matched("before the hang", 0) > 0);

    redis.signal("STOP");
    try {
      CompletableFuture<Void> routed = CompletableFuture.runAsync(() -> {
        for (int i = 0; i < 20; i++) {
          a.route("during the hang " + i, 1);
        }
      });
      await().atMost(WAIT).until(routed::isDone);
      routed.join();
      // The writer's pipeline times out and drops its batch.
      await().atMost(WAIT).until(() -> a.sync().dropped() > 0);
    } finally {
      redis.signal("CONT");
    }

    await().atMost(WAIT).until(() -> {
      a.route("after the hang", 2);
      return b.matched("after the hang", 2) == blocks("after the hang");
    });
  }

  @Test
  void aFullQueueDropsAndCounts() throws Exception {
    Replica a = replica("address: redis://127.0.0.1:" + RedisServer.freePort() + "\nqueueSize: 1");
    for (int i = 0; i < 50; i++) {
      a.route(PROMPT + i, 0);
    }
    await().atMost(WAIT).until(() -> a.sync().dropped() == 50);
    assertEquals(0, a.sync().published());
    assertEquals(50, a.recorded(PrefixIndexSync.DROPPED));
  }

  @Test
  void invalidParametersAreRejectedWithClearMessages() {
    assertInvalid("", "plugin 'redis-prefix-index-sync' (type redis-prefix-index-sync): parameter 'address' "
        + "is required: redis://host[:port]");
    assertInvalid("address: http://localhost:6379", "must be redis://host[:port] (no credentials, path or query), "
        + "got http://localhost:6379");
    assertInvalid("address: redis://user:secret@localhost:6379", "must be redis://host[:port]");
    assertInvalid("address: redis://localhost\nmaxLen: 0", "parameter 'maxLen' must be at least 1, got 0");
    assertInvalid("address: redis://localhost\nqueueSize: -1", "parameter 'queueSize' must be at least 1, got -1");
    assertInvalid("address: redis://localhost\nstreamKey: ' '", "parameter 'streamKey' must not be blank");
    assertInvalid("address: redis://localhost\nproducerName: other", "parameter 'producerName' names no "
        + "approx-prefix-cache-producer plugin 'other' under plugins");
    assertInvalid("address: redis://localhost\nmaxlen: 5", "maxlen");
    assertNoSyncThreads();
  }

  @Test
  void aConfigurationFailingAfterThePluginStartedClosesIt() {
    String yaml = yaml("address: redis://localhost").replace("pluginRef: max-score-picker", "pluginRef: missing");
    assertThrows(ConfigException.class, () -> EndpointPickerConfig.loader().parse(yaml, "replica"));
    assertNoSyncThreads();
  }

  /** The plugins that failed configurations created were closed: their threads end. */
  private static void assertNoSyncThreads() {
    await().atMost(WAIT).until(() -> Thread.getAllStackTraces().keySet().stream()
        .noneMatch(thread -> thread.getName().startsWith("epp-redis-")));
  }

  private void assertInvalid(String parameters, String message) {
    ConfigException e = assertThrows(ConfigException.class, () -> replica(parameters));
    assertTrue(e.getMessage().contains(message), e.getMessage());
  }
}
