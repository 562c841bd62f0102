package dev.epp.scheduler.plugins.session;

import static dev.epp.scheduler.plugins.filter.Filtering.kept;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.requestcontrol.InferenceResponse;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.ProfileResult;
import dev.epp.api.scheduling.SchedulingResult;
import dev.epp.testkit.FakeTicker;
import dev.epp.testkit.FilterContract;
import dev.epp.testkit.Fixtures;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class SessionAffinityFilterTest implements FilterContract<SessionAffinityFilter> {

  private static final Candidates FOUR = Fixtures.unscraped(4);
  private final FakeTicker ticker = new FakeTicker();

  @Override
  public SessionAffinityFilter newFilter() {
    return create(Map.of());
  }

  @Override
  public PluginFactory factory() {
    return new SessionAffinityFilter.Factory();
  }

  @Override
  public RequestContext newContext() {
    return request(Map.of("x-session-token", token("pod-2-rank-0")));
  }

  private SessionAffinityFilter create(Map<String, Object> parameters) {
    return create(parameters, Fixtures.handle(ticker));
  }

  private static SessionAffinityFilter create(Map<String, Object> parameters, PluginHandle handle) {
    return new SessionAffinityFilter.Factory().create(
        new PluginSpec("affinity", SessionAffinityFilter.TYPE, Parameters.of(parameters)), handle);
  }

  static String token(String text) {
    return Base64.getEncoder().encodeToString(text.getBytes(StandardCharsets.UTF_8));
  }

  static RequestContext request(Map<String, String> headers) {
    return Fixtures.context("m", headers);
  }

  static SchedulingResult scheduledTo(int endpoint) {
    return new SchedulingResult("default", Map.of("default", new ProfileResult(List.of(Fixtures.endpoint(endpoint)))));
  }

  // encoded_endpoint_header

  @Test
  void tokenKeepsOnlyTheEndpointItNames() {
    assertEquals("{2}", kept(newFilter(), newContext(), FOUR));
  }

  @Test
  void tokenWithNamespaceAsLlmdWritesItPinsByName() {
    assertEquals("{1}", kept(newFilter(), request(Map.of("x-session-token", token("default/pod-1-rank-0"))), FOUR));
  }

  @Test
  void badOrStaleTokensFallBackToEveryCandidate() {
    SessionAffinityFilter filter = newFilter();
    for (String token : List.of("!!not base64!!", "cG9k", token("pod-9-rank-0"), token(""), "", "  ")) {
      assertEquals("{0, 1, 2, 3}", kept(filter, request(Map.of("x-session-token", token)), FOUR), token);
    }
    assertEquals("{0, 1, 2, 3}", kept(filter, request(Map.of()), FOUR));
  }

  @Test
  void configuredHeaderIsReadCaseInsensitively() {
    SessionAffinityFilter filter = create(Map.of("encodedEndpointHeaderConfig", Map.of("header", " X-My-Token ")));
    assertEquals("{3}", kept(filter, request(Map.of("x-my-token", token("pod-3-rank-0"))), FOUR));
    assertEquals("{0, 1, 2, 3}", kept(filter, request(Map.of("x-session-token", token("pod-3-rank-0"))), FOUR));
  }

  @Test
  void responseCarriesTheTokenOfTheServingEndpoint() {
    SessionAffinityFilter filter = create(Map.of("encodedEndpointHeaderConfig", Map.of("header", "X-My-Token")));
    RequestContext context = request(Map.of());
    filter.preRequest(context, scheduledTo(1));
    InferenceResponse response = new InferenceResponse(Fixtures.endpoint(1), Map.of("content-type", "text/plain"));
    filter.responseHeaders(context, response);
    assertEquals(token("pod-1-rank-0"), response.headers().get("x-my-token"));
    assertEquals("{1}", kept(filter, request(Map.of("x-my-token", response.headers().get("x-my-token"))), FOUR));
  }

  @Test
  void profileNameWritesThatProfilesPickOrNothingWhenItDidNotRun() {
    SessionAffinityFilter filter = create(Map.of("profileName", "prefill",
        "encodedEndpointHeaderConfig", Map.of("header", "x-session-token-prefill")));
    RequestContext context = request(Map.of());
    filter.preRequest(context, new SchedulingResult("decode", Map.of(
        "decode", new ProfileResult(List.of(Fixtures.endpoint(0))),
        "prefill", new ProfileResult(List.of(Fixtures.endpoint(3))))));
    InferenceResponse response = new InferenceResponse(Fixtures.endpoint(0), Map.of());
    filter.responseHeaders(context, response);
    assertEquals(token("pod-3-rank-0"), response.headers().get("x-session-token-prefill"));

    RequestContext decodeOnly = request(Map.of());
    filter.preRequest(decodeOnly, scheduledTo(0));
    InferenceResponse noPrefill = new InferenceResponse(Fixtures.endpoint(0), Map.of());
    filter.responseHeaders(decodeOnly, noPrefill);
    assertFalse(noPrefill.headers().containsKey("x-session-token-prefill"));
  }

  // session_id

  private SessionAffinityFilter sessionIds(Map<String, Object> sessionIdConfig) {
    return create(Map.of("strategy", "session_id", "sessionIdConfig", sessionIdConfig));
  }

  private static RequestContext session(String id) {
    return request(Map.of("x-session-id", id));
  }

  /** Routes one request of session {@code id} through the filter, then records it as scheduled to {@code to}. */
  private static String route(SessionAffinityFilter filter, String id, Candidates candidates, int to) {
    RequestContext context = session(id);
    String kept = kept(filter, context, candidates);
    filter.preRequest(context, scheduledTo(to));
    return kept;
  }

  @Test
  void sessionIsBoundToItsFirstEndpointAndPinnedThere() {
    SessionAffinityFilter filter = sessionIds(Map.of());
    assertEquals("{0, 1, 2, 3}", route(filter, "chat-1", FOUR, 2));
    assertEquals("{2}", route(filter, "chat-1", FOUR, 2));
    assertEquals("{2}", kept(filter, session(" chat-1 "), FOUR));
    assertEquals("{0, 1, 2, 3}", kept(filter, session("chat-2"), FOUR));
    assertEquals("{0, 1, 2, 3}", kept(filter, request(Map.of()), FOUR));
  }

  @Test
  void sessionWhoseEndpointLeftIsRescheduledAndRebound() {
    SessionAffinityFilter filter = sessionIds(Map.of());
    route(filter, "chat-1", FOUR, 3);
    Candidates withoutThree = Fixtures.unscraped(3);
    assertEquals("{0, 1, 2}", route(filter, "chat-1", withoutThree, 1));
    assertEquals("{1}", kept(filter, session("chat-1"), FOUR));
  }

  @Test
  void sourcesAreTriedInOrder() {
    SessionAffinityFilter filter = sessionIds(Map.of("sources", List.of(Map.of("header", "X-Conversation"),
        Map.of("header", "x-user"))));
    RequestContext first = request(Map.of("x-user", "alice"));
    kept(filter, first, FOUR);
    filter.preRequest(first, scheduledTo(1));
    assertEquals("{1}", kept(filter, request(Map.of("x-user", "alice", "x-conversation", " ")), FOUR));
    assertEquals("{0, 1, 2, 3}", kept(filter, request(Map.of("x-user", "alice", "x-conversation", "c")), FOUR));
    assertEquals("{0, 1, 2, 3}", kept(filter, session("alice"), FOUR), "the default header is replaced");
  }

  @Test
  void attributeSourceReadsWhatASessionIdProducerPublished() {
    SessionIdProducer cookies = SessionIdProducer.fromCookie("cookies", "llm-d-session");
    PluginHandle handle = handleWith(cookies);
    SessionAffinityFilter filter = create(Map.of("strategy", "session_id", "sessionIdConfig", Map.of("sources",
        List.of(Map.of("attribute", "SessionIDDataKey", "producer", "cookies")))), handle);
    for (int turn = 0; turn < 2; turn++) {
      RequestContext context = request(Map.of("cookie", "theme=dark; llm-d-session=s-42"));
      cookies.prepareData(context, FOUR);
      assertEquals(turn == 0 ? "{0, 1, 2, 3}" : "{3}", kept(filter, context, FOUR));
      filter.preRequest(context, scheduledTo(3));
    }
  }

  @Test
  void unusedSessionsExpireAfterTheTtl() {
    SessionAffinityFilter filter = sessionIds(Map.of("evictionTtlSeconds", 60));
    SessionIdPin pin = (SessionIdPin) filter.pin();
    route(filter, "old", FOUR, 0);
    ticker.advance(Duration.ofSeconds(40));
    route(filter, "young", FOUR, 1);
    ticker.advance(Duration.ofSeconds(21));
    pin.sweep();
    assertNull(pin.boundEndpoint("old"));
    assertEquals("pod-1-rank-0", pin.boundEndpoint("young"));
    assertEquals(1, pin.size());

    ticker.advance(Duration.ofSeconds(30));
    route(filter, "young", FOUR, 1); // use refreshes the binding
    ticker.advance(Duration.ofSeconds(59));
    pin.sweep();
    assertEquals("{1}", kept(filter, session("young"), FOUR));
  }

  @Test
  void atMostMaxSessionsAreBoundUntilTheSweepFreesRoom() {
    SessionAffinityFilter filter = sessionIds(Map.of("maxSessions", 2, "evictionTtlSeconds", 10));
    SessionIdPin pin = (SessionIdPin) filter.pin();
    route(filter, "a", FOUR, 0);
    route(filter, "b", FOUR, 1);
    route(filter, "c", FOUR, 2);
    assertEquals(2, pin.size());
    assertEquals("{0, 1, 2, 3}", kept(filter, session("c"), FOUR), "over the cap: scheduled normally");
    assertEquals("{0}", kept(filter, session("a"), FOUR), "live sessions are kept");

    ticker.advance(Duration.ofSeconds(11));
    pin.sweep();
    assertEquals(0, pin.size());
    route(filter, "c", FOUR, 2);
    assertEquals("{2}", kept(filter, session("c"), FOUR));
  }

  @Test
  void sweepRunsOnTheHandlesScheduler() {
    java.util.concurrent.ScheduledExecutorService scheduler =
        java.util.concurrent.Executors.newSingleThreadScheduledExecutor();
    try {
      PluginHandle handle = new PluginHandle() {
        @Override
        public dev.epp.api.Ticker ticker() {
          return ticker;
        }

        @Override
        public java.util.concurrent.ScheduledExecutorService scheduler() {
          return scheduler;
        }

        @Override
        public <T> Optional<T> plugin(String name, Class<T> type) {
          return Optional.empty();
        }
      };
      SessionAffinityFilter filter = create(Map.of("strategy", "session_id",
          "sessionIdConfig", Map.of("evictionTtlSeconds", 1, "evictionSweepSeconds", 0.01)), handle);
      route(filter, "chat", FOUR, 0);
      assertEquals(1, ((SessionIdPin) filter.pin()).size());
      ticker.advance(Duration.ofSeconds(2));
      org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30))
          .until(() -> ((SessionIdPin) filter.pin()).size() == 0);
    } finally {
      scheduler.shutdownNow();
    }
  }

  @Test
  void invalidParametersAreRejectedInTheUsersTerms() {
    assertRejected(Map.of("strategy", "cookie"), "strategy",
        "must be \"encoded_endpoint_header\" or \"session_id\", got \"cookie\"");
    assertRejected(Map.of("sessionIdConfig", Map.of("sources", List.of(Map.of("header", "a", "attribute", "b")))),
        "sessionIdConfig.sources[0]", "must set exactly one of 'header' and 'attribute'");
    assertRejected(Map.of("sessionIdConfig", Map.of("sources", List.of(Map.of()))),
        "sessionIdConfig.sources[0]", "must set exactly one");
    assertRejected(Map.of("sessionIdConfig", Map.of("sources", List.of(Map.of("attribute", "agent-identity")))),
        "sessionIdConfig.sources[0].attribute", "must be \"SessionIDDataKey\"");
    assertRejected(Map.of("sessionIdConfig", Map.of("sources", List.of(Map.of("attribute", "SessionIDDataKey")))),
        "sessionIdConfig.sources[0].producer", "'session-id-producer' is not one");
    assertRejected(Map.of("sessionIdConfig", Map.of("evictionTtlSeconds", -1)),
        "sessionIdConfig.evictionTtlSeconds", "must be greater than 0");
    assertRejected(Map.of("sessionIdConfig", Map.of("evictionSweepSeconds", -0.5)),
        "sessionIdConfig.evictionSweepSeconds", "must be greater than 0");
    assertRejected(Map.of("sessionIdConfig", Map.of("maxSessions", 0)),
        "sessionIdConfig.maxSessions", "must be at least 1");
    assertRejected(Map.of("sessionIdConfig", Map.of("ttl", 5)), "sessionIdConfig.ttl", "unknown parameter");
  }

  private void assertRejected(Map<String, Object> parameters, String parameter, String problem) {
    PluginConfigException e = assertThrows(PluginConfigException.class,
        () -> createThroughFactory("affinity", Parameters.of(parameters)));
    assertEquals(parameter, e.parameter(), e::getMessage);
    assertTrue(e.getMessage().contains(problem), e::getMessage);
  }

  static PluginHandle handleWith(SessionIdProducer producer) {
    FakeTicker ticker = new FakeTicker();
    return new PluginHandle() {
      @Override
      public dev.epp.api.Ticker ticker() {
        return ticker;
      }

      @Override
      public <T> Optional<T> plugin(String name, Class<T> type) {
        return name.equals(producer.typedName().name()) && type.isInstance(producer)
            ? Optional.of(type.cast(producer)) : Optional.empty();
      }
    };
  }
}
