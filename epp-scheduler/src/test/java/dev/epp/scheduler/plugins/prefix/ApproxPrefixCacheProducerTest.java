package dev.epp.scheduler.plugins.prefix;

import static dev.epp.testkit.Fixtures.endpoint;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.ConfigDialect;
import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.InferenceRequest;
import dev.epp.api.MetricsRecorder;
import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.RequestBody;
import dev.epp.api.RequestContext;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.ProfileResult;
import dev.epp.api.scheduling.SchedulingResult;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Test;

/**
 * The producer, with the cases of Go's approximateprefix/plugin_test.go (GIE v1.5.0 and 1748e829). Go's tests use
 * {@code blockSizeTokens: 1} (4-character blocks) unless noted; "pod1..pod3" are {@link
 * dev.epp.testkit.Fixtures#endpoint endpoints 0..2} here.
 */
class ApproxPrefixCacheProducerTest {

  private static ApproxPrefixCacheProducer producer(Map<String, Object> parameters) {
    return new ApproxPrefixCacheProducer("prefix", Parameters.of(parameters), ConfigDialect.LLM_D,
        MetricsRecorder.noop());
  }

  private static ApproxPrefixCacheProducer blockSizeOne() {
    return producer(Map.of("autoTune", false, "blockSizeTokens", 1));
  }

  private static RequestContext request(String model, RequestBody body) {
    return new RequestContext(InferenceRequest.builder().requestId("r").model(model).body(body).build());
  }

  private static RequestContext completion(String prompt) {
    return request("test-model1", RequestBody.completion(prompt));
  }

  private static RequestContext chat(String messagesJson) {
    return request("test-model1", new RequestBody(RequestBody.Api.CHAT_COMPLETIONS, false, "", messagesJson));
  }

  /** {@code n} endpoints that were never scraped. */
  private static Candidates pods(int n) {
    return candidates(Collections.nCopies(n, EndpointMetrics.none()));
  }

  private static Candidates candidates(List<EndpointMetrics> metrics) {
    return dev.epp.testkit.Fixtures.candidates(metrics);
  }

  private static SchedulingResult routedTo(Endpoint primary) {
    return new SchedulingResult("default", Map.of("default", new ProfileResult(List.of(primary))));
  }

  /** prepareData, then preRequest with {@code result}; returns the match the request saw. */
  private static PrefixMatch route(
      ApproxPrefixCacheProducer producer, RequestContext context, Candidates candidates, SchedulingResult result) {
    producer.prepareData(context, candidates);
    producer.preRequest(context, result);
    return context.get(PrefixMatch.KEY);
  }

  private static PrefixMatch prepare(ApproxPrefixCacheProducer producer, RequestContext context, Candidates c) {
    producer.prepareData(context, c);
    return context.get(PrefixMatch.KEY);
  }

  @Test
  void reportsItsIndexSizeAndEachRequestsMatchThroughTheRecorderItWasGiven() {
    List<LongSupplier> sizes = new ArrayList<>();
    List<String> matches = new ArrayList<>();
    MetricsRecorder metrics = new MetricsRecorder() {
      @Override
      public void addPrefixIndexSize(LongSupplier size) {
        sizes.add(size);
      }

      @Override
      public void recordPrefixCacheMatch(long matchedChars, long totalChars) {
        matches.add(matchedChars + "/" + totalChars);
      }
    };
    ApproxPrefixCacheProducer producer =
        new ApproxPrefixCacheProducer("prefix", Parameters.of(Map.of("autoTune", false, "blockSizeTokens", 1)),
            ConfigDialect.LLM_D, metrics);
    assertEquals(1, sizes.size());
    route(producer, completion("aaaabbbb"), pods(1), routedTo(endpoint(0)));
    route(producer, completion("aaaabbbbcccc"), pods(1), routedTo(endpoint(0)));
    assertEquals(3, sizes.get(0).getAsLong());
    assertEquals(List.of("0/8", "8/12"), matches, "blocks of 1 token, 4 characters each");
  }

  @Test
  void eachProducerAlsoStoresItsMatchUnderItsOwnKey() {
    ApproxPrefixCacheProducer first = blockSizeOne();
    ApproxPrefixCacheProducer second = producer(Map.of("autoTune", false, "blockSizeTokens", 2));
    RequestContext context = completion("aaaabbbb");
    first.prepareData(context, pods(1));
    second.prepareData(context, pods(1));
    assertEquals(2, context.get(first.matchKey()).totalBlocks());
    assertEquals(1, context.get(second.matchKey()).totalBlocks());
    assertSame(context.get(second.matchKey()), context.get(PrefixMatch.KEY), "the last producer to run");
  }

  @Test
  void prepareDataOnAnEmptyIndexMatchesNothing() {
    // Go TestPrepareRequestData: "aaaabbbb" is 2 blocks of 4 characters; nothing indexed yet.
    PrefixMatch match = prepare(blockSizeOne(), completion("aaaabbbb"), pods(2));
    assertEquals(2, match.totalBlocks());
    assertEquals(1, match.blockSizeTokens());
    assertEquals(0, match.matchedBlocks(0));
    assertEquals(0, match.matchedBlocks(1));
  }

  @Test
  void preRequestIndexesThePrimaryTarget() {
    // Go TestPreRequest.
    ApproxPrefixCacheProducer producer = blockSizeOne();
    RequestContext context = completion("aaaabbbb");
    route(producer, context, pods(1), routedTo(endpoint(0)));
    long[] hashes = PrefixHasher.hash("test-model1", "", "aaaabbbb", 4, 256);
    for (long hash : hashes) {
      assertTrue(producer.index().holds(endpoint(0).name(), hash));
    }
    assertEquals(2, producer.indexSize());
    assertEquals(new PrefixCacheHit(0, 2, 1), context.get(PrefixCacheHit.KEY));
  }

  @Test
  void completionPrefixMatchesThePrimaryAndPrefillTargets() {
    // Go TestPrefixPluginCompletion. "aaaaaa" is one full block and a partial one: 2 hashes (as at Go 1748e829;
    // v1.5.0 ignored the partial block and counted 1).
    ApproxPrefixCacheProducer producer = blockSizeOne();
    Candidates pods = pods(3);
    SchedulingResult result = new SchedulingResult("default", Map.of(
        "default", new ProfileResult(List.of(endpoint(0))),
        "prefill", new ProfileResult(List.of(endpoint(2)))));
    assertEquals(2, route(producer, completion("aaaaaa"), pods, result).totalBlocks());

    PrefixMatch match = prepare(producer, completion("aaaabbbb"), pods);
    assertEquals(2, match.totalBlocks());
    assertEquals(1, match.matchedBlocks(0), "pod1 holds \"aaaa\"");
    assertEquals(0, match.matchedBlocks(1), "pod2 holds nothing");
    assertEquals(1, match.matchedBlocks(2), "pod3, the prefill target, holds \"aaaa\"");
  }

  @Test
  void matchesAndCapacitiesFollowTheCandidatesPositions() {
    // Three pods whose positions run backwards (pod1 at position 2); each pod's capacity is its cacheNumBlocks.
    ApproxPrefixCacheProducer producer = producer(Map.of("blockSizeTokens", 1));
    Candidates scraped = candidates(List.of(blocks(10), blocks(20), blocks(30)));
    Candidates reversed = new Candidates() {
      @Override
      public int size() {
        return scraped.size();
      }

      @Override
      public Endpoint endpoint(int i) {
        return scraped.endpoint(i);
      }

      @Override
      public EndpointMetrics metrics(int i) {
        return scraped.metrics(i);
      }

      @Override
      public int position(int i) {
        return scraped.size() - 1 - i;
      }
    };
    SchedulingResult result = new SchedulingResult("default", Map.of(
        "default", new ProfileResult(List.of(endpoint(1))),
        "prefill", new ProfileResult(List.of(endpoint(0)))));
    PrefixMatch cold = route(producer, completion("aaaabbbb"), reversed, result);
    assertEquals(0, cold.matchedBlocks(endpoint(1)));
    assertEquals(1, cold.position(endpoint(1)));
    assertEquals(2, cold.position(endpoint(0)));
    assertEquals(-1, cold.position(endpoint(3)));
    assertEquals(20, producer.index().capacity(endpoint(1).name()));
    assertEquals(10, producer.index().capacity(endpoint(0).name()));

    PrefixMatch warm = prepare(producer, completion("aaaabbbbcccc"), reversed);
    assertEquals(2, warm.matchedBlocks(2), "pod1 at position 2");
    assertEquals(2, warm.matchedBlocks(1), "pod2 at position 1");
    assertEquals(0, warm.matchedBlocks(0), "pod3 at position 0");
    assertEquals(2, warm.matchedBlocks(endpoint(0)));
    assertEquals(0, warm.matchedBlocks(endpoint(2)));
    assertEquals(0, warm.matchedBlocks(endpoint(3)), "not a candidate");
  }

  private static EndpointMetrics blocks(int cacheNumBlocks) {
    return EndpointMetrics.builder().cacheNumBlocks(cacheNumBlocks).build();
  }

  @Test
  void chatConversationGrowingAcrossTurnsMatchesItsEarlierTurns() {
    // Go TestPrefixPluginChatCompletionsGrowth: blockSizeTokens 2 (8 characters), autoTune off. The prompt is the
    // JSON of the messages, as the parser provides it.
    ApproxPrefixCacheProducer producer = producer(Map.of("autoTune", false, "blockSizeTokens", 2));
    String turn1 = "{\"role\":\"system\",\"content\":\"You are a helpful assistant\"},"
        + "{\"role\":\"user\",\"content\":\"Hello, how are you?\"}";
    String turn2 = turn1 + ",{\"role\":\"assistant\",\"content\":\"I'm doing well, thank you! How can I help you "
        + "today?\"},{\"role\":\"user\",\"content\":\"Can you explain how prefix caching works?\"}";
    PrefixMatch first = route(producer, chat("[" + turn1 + "]"), pods(1), routedTo(endpoint(0)));
    assertTrue(first.totalBlocks() > 0);

    PrefixMatch second = prepare(producer, chat("[" + turn2 + "]"), pods(1));
    assertTrue(second.totalBlocks() > first.totalBlocks());
    assertTrue(second.matchedBlocks(0) > 0, "should have a prefix cache hit");
    assertTrue(second.matchedBlocks(0) < second.totalBlocks());
  }

  @Test
  void multimodalPromptsMatchFullyOnlyWithTheSameUrl() {
    // Go TestPrefixPluginChatCompletionsMultimodal{SameUrlMatches,DifferentUrlPartialMatch} (1748e829):
    // blockSizeTokens 32 (128 characters), autoTune off.
    ApproxPrefixCacheProducer producer = producer(Map.of("autoTune", false, "blockSizeTokens", 32));
    String image = "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Describe\"},"
        + "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://storage.googleapis.com/%s\"}}]}";
    String first = String.format(image, "abc1/sample1.jpg");
    route(producer, chat(first), pods(1), routedTo(endpoint(0)));

    PrefixMatch same = prepare(producer, chat(first), pods(1));
    assertTrue(same.totalBlocks() > 0);
    assertEquals(same.totalBlocks(), same.matchedBlocks(0));

    String other = String.format(image, "bucket2/sample2.jpg");
    PrefixMatch different = prepare(producer, chat(other), pods(1));
    assertTrue(different.matchedBlocks(0) < different.totalBlocks(), "the URL is in the trailing partial block");
  }

  @Test
  void autoTuneTakesBlockSizeAndCapacityFromMetrics() {
    // Go TestPrefixPluginAutoTune: cacheBlockSize 16 (64 characters) wins over blockSizeTokens 32, and the
    // server's capacity is its cacheNumBlocks, not lruCapacityPerServer.
    ApproxPrefixCacheProducer producer =
        producer(Map.of("autoTune", true, "blockSizeTokens", 32, "lruCapacityPerServer", 1));
    Candidates pod = candidates(List.of(EndpointMetrics.builder().cacheBlockSize(16).cacheNumBlocks(1000).build()));
    PrefixMatch match = route(producer, completion("a".repeat(128)), pod, routedTo(endpoint(0)));
    assertEquals(2, match.totalBlocks());
    assertEquals(16, match.blockSizeTokens());
    assertEquals(1000, producer.index().capacity(endpoint(0).name()));
    assertEquals(2, producer.indexSize());
  }

  @Test
  void withoutAutoTuneTheConfiguredCapacityIsUsed() {
    // Go v1.5 ignores lruCapacityPerServer (it always uses 31250); here it bounds the server's index.
    ApproxPrefixCacheProducer producer =
        producer(Map.of("autoTune", false, "blockSizeTokens", 1, "lruCapacityPerServer", 3));
    Candidates pod = candidates(List.of(EndpointMetrics.builder().cacheBlockSize(16).cacheNumBlocks(1000).build()));
    PrefixMatch match = route(producer, completion("aaaabbbbccccdddd"), pod, routedTo(endpoint(0)));
    assertEquals(1, match.blockSizeTokens());
    assertEquals(3, producer.index().capacity(endpoint(0).name()));
    assertEquals(3, producer.indexSize(), "the eldest of 4 blocks was evicted");

    // The first block was evicted, so the server no longer matches any prefix of the prompt.
    assertEquals(0, prepare(producer, completion("aaaabbbbccccdddd"), pod).matchedBlocks(0));
  }

  @Test
  void maxPrefixTokensToMatchLimitsTheBlocks() {
    // Go TestMaxPrefixTokensToMatch.
    ApproxPrefixCacheProducer tokens =
        producer(Map.of("autoTune", false, "blockSizeTokens", 1, "maxPrefixTokensToMatch", 2));
    assertEquals(2, prepare(tokens, completion("aaaabbbbccccdddd"), pods(1)).totalBlocks());
    // The block limit applies when the token limit is 0, GIE's default (llm-d's is 131072).
    ApproxPrefixCacheProducer blocks = new ApproxPrefixCacheProducer("prefix",
        Parameters.of(Map.of("autoTune", false, "blockSizeTokens", 1, "maxPrefixBlocksToMatch", 3)),
        ConfigDialect.GIE, MetricsRecorder.noop());
    assertEquals(3, prepare(blocks, completion("aaaabbbbccccdddd"), pods(1)).totalBlocks());
    ApproxPrefixCacheProducer llmd =
        producer(Map.of("autoTune", false, "blockSizeTokens", 1, "maxPrefixBlocksToMatch", 3));
    assertEquals(4, prepare(llmd, completion("aaaabbbbccccdddd"), pods(1)).totalBlocks());
  }

  @Test
  void promptShorterThanABlockOrEmptyHasNoBlocksAndIndexesNothing() {
    ApproxPrefixCacheProducer producer = producer(Map.of());
    for (RequestContext context : List.of(completion("short"), request("m", RequestBody.opaque()))) {
      PrefixMatch match = route(producer, context, pods(2), routedTo(endpoint(1)));
      assertEquals(0, match.totalBlocks());
      assertEquals(new PrefixCacheHit(0, 0, 16), context.get(PrefixCacheHit.KEY));
    }
    assertEquals(0, producer.indexSize());
  }

  @Test
  void hitRecordsThePrimaryTargetsMatch() {
    ApproxPrefixCacheProducer producer = blockSizeOne();
    route(producer, completion("aaaabbbb"), pods(2), routedTo(endpoint(1)));
    RequestContext context = completion("aaaabbbbcccc");
    route(producer, context, pods(2), routedTo(endpoint(1)));
    PrefixCacheHit hit = context.get(PrefixCacheHit.KEY);
    assertEquals(new PrefixCacheHit(2, 3, 1), hit);
    assertEquals(8, hit.hitBytes());
    assertEquals(12, hit.totalBytes());
    assertEquals(2.0 / 3, hit.hitRatio(), 1e-12);
  }

  @Test
  void cacheSaltSeparatesTenants() {
    ApproxPrefixCacheProducer producer = blockSizeOne();
    route(producer, request("m", new RequestBody(RequestBody.Api.COMPLETIONS, false, "a", "aaaabbbb")), pods(1),
        routedTo(endpoint(0)));
    assertEquals(0, prepare(producer,
        request("m", new RequestBody(RequestBody.Api.COMPLETIONS, false, "b", "aaaabbbb")), pods(1))
        .matchedBlocks(0));
    assertEquals(2, prepare(producer,
        request("m", new RequestBody(RequestBody.Api.COMPLETIONS, false, "a", "aaaabbbb")), pods(1))
        .matchedBlocks(0));
  }

  @Test
  void preRequestWithoutPreparedDataDoesNothing() {
    ApproxPrefixCacheProducer producer = blockSizeOne();
    RequestContext context = completion("aaaabbbb");
    producer.preRequest(context, routedTo(endpoint(0)));
    assertNull(context.get(PrefixCacheHit.KEY));
    assertEquals(0, producer.indexSize());
  }

  @Test
  void listenersHearLocalInsertsAndRemoteInsertsMatchWithoutReachingThem() {
    ApproxPrefixCacheProducer a = blockSizeOne();
    ApproxPrefixCacheProducer b = blockSizeOne();
    List<String> heardByA = new ArrayList<>();
    List<String> heardByB = new ArrayList<>();
    a.addInsertListener((endpoint, capacity, hashes) -> {
      heardByA.add(endpoint + "/" + hashes.length);
      b.applyRemoteInsert(endpoint, capacity, hashes.clone());
    });
    b.addInsertListener((endpoint, capacity, hashes) -> heardByB.add(endpoint));
    route(a, completion("aaaabbbb"), pods(2), routedTo(endpoint(1)));
    assertEquals(List.of(endpoint(1).name() + "/2"), heardByA);
    assertEquals(List.of(), heardByB);
    assertEquals(2, prepare(b, completion("aaaabbbb"), pods(2)).matchedBlocks(1));
    assertEquals(31250, b.index().capacity(endpoint(1).name()));

    b.removed(endpoint(1));
    b.applyRemoteInsert(endpoint(1).name(), 10, PrefixHasher.hash("test-model1", "", "aaaabbbb", 4, 256));
    assertEquals(0, b.indexSize());
    assertThrows(IllegalArgumentException.class, () -> b.applyRemoteInsert("x", 0, new long[] {1}));
  }

  @Test
  void removedEndpointIsForgotten() {
    ApproxPrefixCacheProducer producer = blockSizeOne();
    route(producer, completion("aaaabbbb"), pods(2), routedTo(endpoint(0)));
    route(producer, completion("ccccdddd"), pods(2), routedTo(endpoint(1)));
    assertEquals(4, producer.indexSize());
    producer.removed(endpoint(0));
    assertEquals(2, producer.indexSize());
    assertEquals(0, prepare(producer, completion("aaaabbbb"), pods(2)).matchedBlocks(0));
    assertEquals(2, prepare(producer, completion("ccccdddd"), pods(2)).matchedBlocks(1));
  }

  @Test
  void validatesParametersAsGo() {
    // Go TestPrepareDataValidation, plus the checks Go lacks.
    producer(Map.of("autoTune", false, "blockSizeTokens", 1));
    producer(Map.of("autoTune", false, "blockSize", 1, "blockSizeTokens", 1));
    producer(Map.of("autoTune", true, "blockSizeTokens", 0));
    assertInvalid("blockSize", Map.of("autoTune", false, "blockSize", 1));
    assertInvalid("blockSize", Map.of("blockSize", 64)); // Go ignores it silently (its default blockSizeTokens)
    assertInvalid("blockSizeTokens", Map.of("autoTune", false, "blockSizeTokens", 0));
    assertInvalid("maxPrefixTokensToMatch", Map.of("maxPrefixTokensToMatch", -1));
    assertInvalid("maxPrefixBlocksToMatch", Map.of("maxPrefixBlocksToMatch", 0));
    assertInvalid("lruCapacityPerServer", Map.of("lruCapacityPerServer", 0));
  }

  private static void assertInvalid(String parameter, Map<String, Object> parameters) {
    PluginConfigException e = assertThrows(PluginConfigException.class, () -> producer(parameters));
    assertEquals(parameter, e.parameter(), e.getMessage());
  }

  @Test
  void legacyBlockSizeMessageExplainsTheMigration() {
    PluginConfigException e =
        assertThrows(PluginConfigException.class, () -> producer(Map.of("blockSize", 64)));
    assertTrue(e.getMessage().contains("deprecated") && e.getMessage().contains("blockSizeTokens: 16"),
        e.getMessage());
  }
}
