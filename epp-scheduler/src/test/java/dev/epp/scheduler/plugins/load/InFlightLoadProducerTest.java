package dev.epp.scheduler.plugins.load;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.ConfigDialect;
import dev.epp.api.Endpoint;
import dev.epp.api.InferenceRequest;
import dev.epp.api.MetricsRecorder;
import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.RequestBody;
import dev.epp.api.RequestContext;
import dev.epp.api.requestcontrol.InferenceResponse;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.ProfileResult;
import dev.epp.api.scheduling.SchedulingResult;
import dev.epp.scheduler.plugins.prefix.ApproxPrefixCacheProducer;
import dev.epp.testkit.Fixtures;
import dev.epp.testkit.PluginContract;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class InFlightLoadProducerTest implements PluginContract {

  /** 64 ASCII characters: 16 estimated tokens. */
  private static final String PROMPT = "0123456789abcdef".repeat(4);

  private final Candidates candidates = Fixtures.candidates(Fixtures.metrics(0, 0), Fixtures.metrics(0, 0));
  private final Endpoint pod0 = candidates.endpoint(0);
  private final Endpoint pod1 = candidates.endpoint(1);

  @Override
  public PluginFactory factory() {
    return new InFlightLoadProducer.Factory();
  }

  private static InFlightLoadProducer producer(Map<String, Object> parameters) {
    return new InFlightLoadProducer("inflight", Parameters.of(parameters));
  }

  private static RequestContext context(String prompt) {
    return new RequestContext(InferenceRequest.builder().requestId("r").model("m")
        .body(new RequestBody(RequestBody.Api.COMPLETIONS, true, "", prompt)).build());
  }

  /** Prepares and routes {@code context} to {@code target}, as the Director does. */
  private RequestContext route(InFlightLoadProducer producer, RequestContext context, Endpoint target) {
    producer.prepareData(context, candidates);
    producer.preRequest(context, new SchedulingResult("default", Map.of("default", new ProfileResult(List.of(target)))));
    return context;
  }

  private static void chunk(InFlightLoadProducer producer, RequestContext context, Endpoint target, boolean end) {
    InferenceResponse response = new InferenceResponse(target, Map.of());
    response.endOfStream(end);
    producer.responseBody(context, response);
  }

  @Test
  void countsTheRequestAndItsPromptTokensOnThePrimaryTarget() {
    InFlightLoadProducer producer = producer(Map.of());
    route(producer, context(PROMPT), pod1);
    assertEquals(1, producer.requests(pod1));
    assertEquals(16, producer.tokens(pod1));
    assertEquals(0, producer.requests(pod0));
    assertEquals(0, producer.tokens(pod0));
  }

  @Test
  void releasesTokensAtTheFirstChunkAndTheRequestAtTheEnd() {
    InFlightLoadProducer producer = producer(Map.of());
    RequestContext context = route(producer, context(PROMPT), pod0);
    chunk(producer, context, pod0, false);
    assertEquals(1, producer.requests(pod0));
    assertEquals(0, producer.tokens(pod0));
    chunk(producer, context, pod0, false);
    chunk(producer, context, pod0, true);
    assertEquals(0, producer.requests(pod0));
    assertEquals(0, producer.tokens(pod0));
  }

  @Test
  void releasesExactlyOnce() {
    InFlightLoadProducer producer = producer(Map.of());
    RequestContext first = route(producer, context(PROMPT), pod0);
    route(producer, context(PROMPT), pod0);
    chunk(producer, first, pod0, true);
    chunk(producer, first, pod0, true);
    assertEquals(1, producer.requests(pod0));
    assertEquals(16, producer.tokens(pod0));
  }

  @Test
  void estimatedOutputTokensAreHeldUntilTheEnd() {
    InFlightLoadProducer producer = producer(Map.of("addEstimatedOutputTokens", true));
    RequestContext context = route(producer, context(PROMPT), pod0);
    assertEquals(16 + 24, producer.tokens(pod0)); // round(16 × 1.5)
    chunk(producer, context, pod0, false);
    assertEquals(40, producer.tokens(pod0));
    chunk(producer, context, pod0, true);
    assertEquals(0, producer.tokens(pod0));
    assertEquals(0, producer.requests(pod0));
  }

  @Test
  void estimatedOutputFollowsTheRatioAndTheCap() {
    InFlightLoadProducer ratio = producer(Map.of("addEstimatedOutputTokens", true, "outputRatio", 0.5));
    route(ratio, context(PROMPT), pod0);
    assertEquals(16 + 8, ratio.tokens(pod0));
    InFlightLoadProducer capped =
        producer(Map.of("addEstimatedOutputTokens", true, "maxEstimatedOutputTokens", 5));
    route(capped, context(PROMPT), pod0);
    assertEquals(16 + 5, capped.tokens(pod0));
    InFlightLoadProducer off = producer(Map.of("outputRatio", 3.0, "maxEstimatedOutputTokens", 5));
    route(off, context(PROMPT), pod0);
    assertEquals(16, off.tokens(pod0));
  }

  @Test
  void countsOnlyThePromptTokensTheTargetDoesNotHold() {
    ApproxPrefixCacheProducer prefix = new ApproxPrefixCacheProducer("prefix",
        Parameters.of(Map.of("autoTune", false, "blockSizeTokens", 4)), ConfigDialect.LLM_D, MetricsRecorder.noop());
    InFlightLoadProducer producer = producer(Map.of());
    SchedulingResult toPod0 = new SchedulingResult("default", Map.of("default", new ProfileResult(List.of(pod0))));
    RequestContext first = context(PROMPT);
    prefix.prepareData(first, candidates);
    producer.prepareData(first, candidates);
    prefix.preRequest(first, toPod0);
    producer.preRequest(first, toPod0);
    assertEquals(16, producer.tokens(pod0));

    // The prompt again plus 64 more characters: pod0 holds the first 16 tokens, pod1 nothing.
    RequestContext second = context(PROMPT + "ghijklmnopqrstuv".repeat(4));
    prefix.prepareData(second, candidates);
    producer.prepareData(second, candidates);
    assertEquals(16, producer.requestTokens(second, 0));
    assertEquals(32, producer.requestTokens(second, 1));
    prefix.preRequest(second, toPod0);
    producer.preRequest(second, toPod0);
    assertEquals(16 + 16, producer.tokens(pod0));
  }

  @Test
  void requestTokensAreZeroForARequestItDidNotPrepare() {
    assertEquals(0, producer(Map.of()).requestTokens(context(PROMPT), 0));
  }

  @Test
  void estimatesPromptTokensFromUtf8Bytes() {
    assertEquals(0, InFlightLoadProducer.promptTokens(""));
    assertEquals(1, InFlightLoadProducer.promptTokens("abcd"));
    assertEquals(2, InFlightLoadProducer.promptTokens("abcde"));
    assertEquals(1, InFlightLoadProducer.promptTokens("éé")); // 2 bytes each
    assertEquals(2, InFlightLoadProducer.promptTokens("€€")); // 3 bytes each
    assertEquals(1, InFlightLoadProducer.promptTokens("\uD83D\uDE00")); // one 4-byte code point
  }

  @Test
  void forgetsAnEndpointThatLeavesWithoutDisturbingItsReturn() {
    InFlightLoadProducer producer = producer(Map.of());
    RequestContext before = route(producer, context(PROMPT), pod0);
    producer.removed(pod0);
    assertEquals(0, producer.requests(pod0));
    producer.added(pod0);
    route(producer, context(PROMPT), pod0);
    chunk(producer, before, pod0, true);
    assertEquals(1, producer.requests(pod0));
    assertEquals(16, producer.tokens(pod0));
  }

  @Test
  void rejectsNegativeParameters() {
    PluginConfigException ratio =
        assertThrows(PluginConfigException.class, () -> producer(Map.of("outputRatio", -0.1)));
    assertTrue(ratio.getMessage().contains("outputRatio"), ratio.getMessage());
    PluginConfigException cap =
        assertThrows(PluginConfigException.class, () -> producer(Map.of("maxEstimatedOutputTokens", -1)));
    assertTrue(cap.getMessage().contains("maxEstimatedOutputTokens"), cap.getMessage());
  }
}
