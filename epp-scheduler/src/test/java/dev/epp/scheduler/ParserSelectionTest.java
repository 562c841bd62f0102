package dev.epp.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.management.ThreadMXBean;
import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.InferenceException;
import dev.epp.api.InferenceException.Code;
import dev.epp.api.RequestBody;
import dev.epp.api.TypedName;
import dev.epp.api.requestcontrol.ParsedRequest;
import dev.epp.api.requestcontrol.RequestParser;
import dev.epp.api.requestcontrol.Usage;
import dev.epp.testkit.LogCapture;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Each request's parser is picked by its path, as llm-d picks it. */
class ParserSelectionTest {

  private static final String LLMD = "apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\n";
  private static final String CHAT = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
  private static final String COMPLETION = "{\"model\":\"m\",\"prompt\":\"hi\"}";
  private static final String GENERATE = "{\"model\":\"m\",\"token_ids\":[1,2,3]}";

  private final PluginRegistry registry = TestPlugins.registry();
  private final EndpointPool pool = new EndpointPool();

  ParserSelectionTest() {
    registry.register(TestPlugins.factory("claims-completions",
        spec -> new ClaimingParser(spec.typedName(), List.of(" /completions/ "))));
    pool.upsert(Endpoint.of("pod-0", "10.0.0.1", 8000));
    pool.updateMetrics("pod-0", EndpointMetrics.builder().updatedNanos(System.nanoTime()).build());
  }

  private Director director(String yaml) {
    return Director.builder(EndpointPickerConfig.loader().registry(registry).parse(yaml, "test.yaml"), pool).build();
  }

  private static Routing route(Director director, String path, String body) {
    Map<String, String> headers = new HashMap<>();
    if (path != null) {
      headers.put(":path", path);
    }
    return director.route(headers, body.getBytes(StandardCharsets.UTF_8), null);
  }

  private static String parser(Director director, String path, String body) {
    return route(director, path, body).parser().typedName().name();
  }

  private static RequestBody.Api api(Director director, String path, String body) {
    return route(director, path, body).context().request().body().api();
  }

  @Test
  void theDefaultParsersSplitRequestsByPathWithPassthroughForTheRest() {
    Director director = director(LLMD + "plugins:\n- type: test-scorer\n");
    assertEquals(RequestBody.Api.MESSAGES, api(director, "/v1/messages", CHAT));
    assertEquals("anthropic-parser", parser(director, "/v1/messages?beta=true", CHAT));
    assertEquals("anthropic-parser", parser(director, "/v1/messages/count_tokens", CHAT));
    assertEquals("vllmhttp-parser", parser(director, "/inference/v1/generate", GENERATE));
    assertEquals("openai-parser", parser(director, "/v1/chat/completions/", CHAT));
    assertEquals(RequestBody.Api.CHAT_COMPLETIONS, api(director, "/v1/chat/completions?x=1", CHAT));
    assertEquals("openai-parser", parser(director, "/v1/completions", COMPLETION));
    assertEquals("openai-parser", parser(director, null, COMPLETION));
    assertEquals("passthrough-parser", parser(director, "/generate", GENERATE));
    assertEquals(RequestBody.Api.OPAQUE, api(director, "/v1/audio/transcriptions", "not json"));
  }

  @Test
  void aPathHeaderFallsBackToTheOriginalThenTheForwardedPath() {
    Director director = director(LLMD + "plugins:\n- type: test-scorer\n");
    byte[] body = CHAT.getBytes(StandardCharsets.UTF_8);
    assertEquals("anthropic-parser", director.route(Map.of("x-original-path", "/v1/messages",
        "x-forwarded-path", "/v1/chat/completions"), body, null).parser().typedName().name());
    assertEquals("anthropic-parser",
        director.route(Map.of(":path", "", "x-forwarded-path", "/v1/messages"), body, null).parser().typedName().name());
  }

  @Test
  void anExplicitListHasNoFallbackSoAnUnclaimedPathIsABadRequest() {
    Director director = director(LLMD + """
        plugins:
        - name: generate
          type: vllmhttp-parser
        - name: openai
          type: openai-parser
        requestHandler:
          parsers:
          - pluginRef: generate
          - pluginRef: openai
        """);
    assertEquals("generate", parser(director, "/inference/v1/generate", GENERATE));
    assertEquals("openai", parser(director, "/v1/embeddings", "{\"model\":\"m\",\"input\":\"hi\"}"));
    InferenceException e = assertThrows(InferenceException.class, () -> route(director, "/v1/messages?beta=1", CHAT));
    assertEquals(Code.BAD_REQUEST, e.code());
    assertEquals("no parser registered matching path suffix for: /v1/messages", e.getMessage());
  }

  @Test
  void theLongestClaimedSuffixWinsAndTheFirstParserOnATie() {
    Director director = director(LLMD + """
        plugins:
        - name: mine
          type: claims-completions
        - name: openai
          type: openai-parser
        requestHandler:
          parsers:
          - pluginRef: mine
          - pluginRef: openai
        """);
    assertEquals("openai", parser(director, "/v1/chat/completions", CHAT));
    assertEquals("mine", parser(director, "/v1/completions", COMPLETION));
  }

  @Test
  void parsersAfterTheFallbackAndRepeatedTypesAreSkippedWithAWarning() {
    String yaml = LLMD + """
        plugins:
        - name: first
          type: openai-parser
        - name: second
          type: openai-parser
        - name: opaque
          type: passthrough-parser
        - type: anthropic-parser
        requestHandler:
          parsers:
          - pluginRef: first
          - pluginRef: second
          - pluginRef: opaque
          - pluginRef: anthropic-parser
        """;
    try (LogCapture log = new LogCapture()) {
      Director director = director(yaml);
      assertEquals(1, log.lines("WARN", "parser 'second' skipped: a parser of type openai-parser is already configured")
          .size(), log.lines().toString());
      assertEquals(1, log.lines("WARN", "parser 'anthropic-parser' skipped: it is configured after the fallback"
          + " parser 'opaque'").size(), log.lines().toString());
      assertEquals("first", parser(director, "/v1/completions", COMPLETION));
      assertEquals("opaque", parser(director, "/v1/messages", CHAT));
    }
    assertEquals(List.of("first", "opaque"), EndpointPickerConfig.loader().registry(registry).parse(yaml, "test.yaml")
        .parsers().stream().map(p -> p.typedName().name()).toList());
  }

  /** Selection allocates nothing: any per-call allocation would show as at least 16 bytes × 10 000. */
  @Test
  void selectionAllocatesNothing() {
    ThreadMXBean threads = (ThreadMXBean) ManagementFactory.getThreadMXBean();
    assumeTrue(threads.isThreadAllocatedMemoryEnabled(), "the JVM does not measure thread allocation");
    ParserRegistry parsers = EndpointPickerConfig.loader().registry(registry)
        .parse(LLMD + "plugins:\n- type: test-scorer\n", "test.yaml").parserRegistry();
    List<Map<String, String>> requests = List.of(Map.of(":path", "/v1/chat/completions?stream=true"),
        Map.of(":path", "/v1/messages/"), Map.of("x-original-path", "/inference/v1/generate"), Map.of(":path", "/x"));
    for (int i = 0; i < 200_000; i++) {
      parsers.resolve(requests.get(i & 3));
    }
    long before = threads.getCurrentThreadAllocatedBytes();
    for (int i = 0; i < 10_000; i++) {
      parsers.resolve(requests.get(i & 3));
    }
    long allocated = threads.getCurrentThreadAllocatedBytes() - before;
    assertTrue(allocated < 4096, () -> "selection allocated " + allocated + " bytes");
  }

  /** An opaque parser claiming the given paths. */
  private record ClaimingParser(TypedName typedName, List<String> paths) implements RequestParser {
    @Override
    public ParsedRequest parseRequest(byte[] body, Map<String, String> headers) {
      return new ParsedRequest("", RequestBody.opaque());
    }

    @Override
    public byte[] withModel(byte[] body, String model) {
      return body;
    }

    @Override
    public Usage parseResponse(byte[] chunk, boolean eventStream) {
      return null;
    }
  }
}
