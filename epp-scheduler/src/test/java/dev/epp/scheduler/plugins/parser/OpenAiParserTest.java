package dev.epp.scheduler.plugins.parser;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.epp.api.InferenceException;
import dev.epp.api.InferenceException.Code;
import dev.epp.api.RequestBody.Api;
import dev.epp.api.requestcontrol.ParsedRequest;
import dev.epp.api.requestcontrol.Usage;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Request and response parsing of the OpenAI APIs, after the Go parser's tests. */
class OpenAiParserTest {

  private final OpenAiParser parser = new OpenAiParser(OpenAiParser.TYPE);

  private ParsedRequest parse(String path, String json) {
    return parser.parseRequest(json.getBytes(StandardCharsets.UTF_8), Map.of(":path", path));
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void completionsWithStringAndArrayPrompts() {
    ParsedRequest r = parse("/v1/completions",
        "{\"model\":\"m\",\"prompt\":\"hello \\\"world\\\"\",\"stream\":true,\"cache_salt\":\"s1\",\"max_tokens\":5}");
    assertEquals("m", r.model());
    assertEquals(Api.COMPLETIONS, r.body().api());
    assertEquals("hello \"world\"", r.body().prompt());
    assertTrue(r.body().stream());
    assertEquals("s1", r.body().cacheSalt());
    assertEquals("a b", parse("/v1/completions", "{\"model\":\"m\",\"prompt\":[\"a\",\"b\"]}").body().prompt());
  }

  @Test
  void chatPromptIsTheRawMessagesJson() {
    String messages = "[{\"role\":\"system\",\"content\":\"be brief\"},"
        + "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}]";
    ParsedRequest r = parse("/v1/chat/completions?x=1", "{\"messages\": " + messages + ", \"model\": \"llama\"}");
    assertEquals(Api.CHAT_COMPLETIONS, r.body().api());
    assertEquals(messages, r.body().prompt());
    assertEquals("llama", r.model());
    assertFalse(r.body().stream());
  }

  @Test
  void otherApisAndThePathHeaders() {
    ParsedRequest responses = parse("/v1/responses",
        "{\"model\":\"m\",\"instructions\":\"be kind\",\"input\":\"hi\",\"tools\":[{\"type\":\"x\"}]}");
    assertEquals(Api.RESPONSES, responses.body().api());
    assertEquals("[{\"instructions\":\"be kind\"},{\"tools\":[{\"type\":\"x\"}]},{\"input\":\"hi\"}]",
        responses.body().prompt());
    assertEquals("[{\"a\":1}]", parse("/v1/conversations", "{\"items\":[{\"a\":1}]}").body().prompt());
    assertEquals("[\"x\",\"y\"]", parse("/v1/embeddings", "{\"model\":\"e\",\"input\":[\"x\",\"y\"]}").body().prompt());
    assertEquals(Api.EMBEDDINGS,
        parser.parseRequest(bytes("{\"input\":\"x\"}"), Map.of("x-original-path", "/v1/embeddings")).body().api());
    assertEquals(Api.COMPLETIONS, parser.parseRequest(bytes("{\"prompt\":\"x\"}"), Map.of()).body().api());
    assertEquals("", parse("/v1/completions", "{\"prompt\":\"x\",\"model\":null}").model());
  }

  static Stream<Arguments> badRequests() {
    return Stream.of(
        Arguments.of("/v1/completions", "no healthy upstream", "error unmarshaling request body"),
        Arguments.of("/v1/completions", "[1,2]", "the body is not a JSON object"),
        Arguments.of("/v1/completions", "{\"model\":\"m\"} {}", "unexpected data after the JSON object"),
        Arguments.of("/v1/completions", "{\"model\":\"m\",\"prompt\":\"\"}", "'prompt' must be a non-empty"),
        Arguments.of("/v1/completions", "{\"model\":\"m\",\"prompt\":[1]}", "'prompt' must be a non-empty"),
        Arguments.of("/v1/completions", "{\"model\":\"m\"}", "'prompt' must be a non-empty"),
        Arguments.of("/v1/chat/completions", "{\"model\":\"m\",\"messages\":[]}", "'messages' must be a non-empty"),
        Arguments.of("/v1/chat/completions", "{\"model\":\"m\",\"messages\":\"x\"}", "'messages' must be a non-empty"),
        Arguments.of("/v1/responses", "{\"model\":\"m\"}", "'input' is required"),
        Arguments.of("/v1/conversations", "{\"items\":[]}", "'items' must be a non-empty array"),
        Arguments.of("/v1/embeddings", "{\"model\":\"m\"}", "'input' is required"),
        Arguments.of("/v1/completions", "{\"model\":\"m\",\"prompt\":\"x\"", "error unmarshaling request body"));
  }

  @ParameterizedTest
  @MethodSource("badRequests")
  void invalidBodiesAreBadRequests(String path, String body, String message) {
    InferenceException e = assertThrows(InferenceException.class, () -> parse(path, body));
    assertEquals(Code.BAD_REQUEST, e.code());
    assertTrue(e.getMessage().contains(message), e.getMessage());
  }

  static Stream<Arguments> unreadableBodies() {
    String deep = "[".repeat(300) + "]".repeat(300);
    return Stream.of(
        Arguments.of("{\"model\":\"m\",\"prompt\":\"p\",\"x\":" + deep + "}",
            "error unmarshaling request body: the body nests arrays and objects deeper than 256 levels"),
        Arguments.of("{\"model\":\"m\",\"prompt\":\"p\",\"t\":NaN}",
            "error unmarshaling request body: NaN and Infinity are not valid JSON numbers at line 1, column 34"),
        Arguments.of("{\"model\":\"m\",\"t\":-Infinity}",
            "error unmarshaling request body: NaN and Infinity are not valid JSON numbers at line 1, column 27"),
        Arguments.of("{\"model\":\"m\",\"t\":+1}",
            "error unmarshaling request body: JSON numbers cannot start with '+' at line 1, column 19"),
        Arguments.of("{\"model\":\"m\" /* c */}",
            "error unmarshaling request body: comments are not allowed in JSON at line 1, column 14"),
        Arguments.of("{\"model\":\"m\",\"prompt\":\"p\"",
            "error unmarshaling request body: the JSON ends before it is complete at line 1, column 26"),
        Arguments.of("{\"model\":\"m\",\"n\":" + "1".repeat(1200) + "}",
            "error unmarshaling request body: a number is longer than 1000 characters"),
        Arguments.of("{\"model\":{\"name\":\"m\"},\"prompt\":\"p\"}", "'model' must be a string"),
        Arguments.of("{\"model\":[\"m\"],\"prompt\":\"p\"}", "'model' must be a string"),
        Arguments.of("{\"model\":7,\"prompt\":\"p\"}", "'model' must be a string"),
        Arguments.of("{\"model\":\"m\",\"cache_salt\":{},\"prompt\":\"p\"}", "'cache_salt' must be a string"),
        Arguments.of("{\"model\":\"m\",\"stream\":[true],\"prompt\":\"p\"}", "'stream' must be true or false"),
        Arguments.of("{\"model\":\"m\",}",
            "error unmarshaling request body: Unexpected character ('}' (code 125)): was expecting double-quote to "
                + "start field name at line 1, column 14"));
  }

  @ParameterizedTest
  @MethodSource("unreadableBodies")
  void errorsSayWhatIsWrongInTheClientsTerms(String body, String message) {
    InferenceException e = assertThrows(InferenceException.class, () -> parse("/v1/completions", body));
    assertEquals(Code.BAD_REQUEST, e.code());
    assertEquals(message, e.getMessage());
  }

  @Test
  void bodiesInUtf16OrUtf32AreBadRequests() {
    String chat = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    for (String charset : List.of("UTF-16", "UTF-16LE", "UTF-16BE", "UTF-32BE", "UTF-32LE")) {
      InferenceException e = assertThrows(InferenceException.class, () -> parser.parseRequest(
          chat.getBytes(Charset.forName(charset)), Map.of(":path", "/v1/chat/completions")), charset);
      assertEquals(Code.BAD_REQUEST, e.code(), charset);
      assertEquals("error unmarshaling request body: the body is not UTF-8 JSON", e.getMessage(), charset);
    }
    assertEquals("m", parser.parseRequest(bytes("\uFEFF" + chat), Map.of(":path", "/v1/chat/completions")).model(),
        "a UTF-8 byte-order mark is allowed");
  }

  @Test
  void withModelReplacesOnlyTheModelAndKeepsKeyOrder() throws Exception {
    byte[] rewritten = parser.withModel(bytes("{\"prompt\":\"p\",\"model\":\"a\",\"max_tokens\":100,\"t\":0.5}"), "b");
    assertEquals("{\"prompt\":\"p\",\"model\":\"b\",\"max_tokens\":100,\"t\":0.5}",
        new String(rewritten, StandardCharsets.UTF_8));
    assertEquals(new ObjectMapper().readTree("{\"model\":\"b\",\"prompt\":\"p\"}"),
        new ObjectMapper().readTree(parser.withModel(bytes("{\"prompt\":\"p\"}"), "b")));
  }

  @Test
  void usageFromJsonBodies() {
    assertEquals(new Usage(7, 3, 10, 2), parser.parseResponse(bytes("{\"object\":\"text_completion\",\"usage\":"
        + "{\"prompt_tokens\":7,\"completion_tokens\":3,\"total_tokens\":10,"
        + "\"prompt_tokens_details\":{\"cached_tokens\":2}}}"), false));
    assertEquals(new Usage(5, 4, 9, 1), parser.parseResponse(bytes("{\"object\":\"response\",\"usage\":"
        + "{\"input_tokens\":5,\"output_tokens\":4,\"total_tokens\":9,\"input_tokens_details\":{\"cached_tokens\":1}}}"),
        false));
    assertEquals(new Usage(1, 1, 2, 1), parser.parseResponse(bytes("{\"object\":\"chat.completion\",\"usage\":"
        + "{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2,"
        + "\"prompt_token_details\":{\"cached_tokens\":1}}}"), false));
    assertNull(parser.parseResponse(bytes("{\"object\":\"text_completion\"}"), false));
    assertNull(parser.parseResponse(bytes("not json"), false));
    assertNull(parser.parseResponse(new byte[0], false));
  }

  @Test
  void usageIsFoundWhereverItsFieldsAreAndOnlyAtTheTopLevel() {
    assertEquals(new Usage(6, 2, 8, 0), parser.parseResponse(bytes("{\"usage\":{\"completion_tokens\":2,"
        + "\"prompt_tokens\":6},\"choices\":[{\"message\":{\"content\":\"the \\\"usage\\\" is\","
        + "\"usage\":{\"prompt_tokens\":99}}}],\"object\":\"chat.completion\"}"), false));
    assertEquals(new Usage(3, 1, 4, 0), parser.parseResponse(bytes("{\"usage\":{\"input_tokens\":3,"
        + "\"output_tokens\":1},\"object\":\"response\"}"), false), "the object decides, even when it comes last");
    assertNull(parser.parseResponse(bytes("{\"choices\":[{\"usage\":{\"prompt_tokens\":1}}]}"), false));
    assertNull(parser.parseResponse(bytes("{\"usage\":\"none\"}"), false));
    assertNull(parser.parseResponse(bytes("{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1},\"choi"), false),
        "a truncated document has no usage");
    assertNull(parser.parseResponse(bytes("{\"type\":\"response.completed\",\"usage\":{\"input_tokens\":1}}"), false),
        "a response.completed event carries its usage under response");
    assertNull(parser.parseResponse(bytes("{\"response\":{\"usage\":{\"input_tokens\":1}}}"), false),
        "response.usage counts only in a response.completed event");
  }

  @Test
  void usageFromServerSentEvents() {
    String chunk = "data: {\"choices\":[{\"text\":\"a\"}],\"usage\":null}\n\n"
        + "data: {\"object\":\"text_completion\",\"choices\":[],\"usage\":"
        + "{\"prompt_tokens\":4,\"completion_tokens\":3,\"total_tokens\":7}}\n\ndata: [DONE]\n\n";
    assertEquals(new Usage(4, 3, 7, 0), parser.parseResponse(bytes(chunk), true));
    assertEquals(new Usage(2, 1, 3, 0), parser.parseResponse(bytes("event: response.completed\ndata:{\"type\":"
        + "\"response.completed\",\"response\":{\"usage\":{\"input_tokens\":2,\"output_tokens\":1,"
        + "\"total_tokens\":3}}}\n"), true));
    assertNull(parser.parseResponse(bytes("data: {}\n\n"), true));
    assertNull(parser.parseResponse(bytes("data: [DONE]\n\n"), true));
  }
}
