package dev.epp.scheduler.plugins.parser;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.epp.api.InferenceException;
import dev.epp.api.InferenceException.Code;
import dev.epp.api.RequestBody;
import dev.epp.api.RequestBody.Api;
import dev.epp.api.requestcontrol.ParsedRequest;
import dev.epp.api.requestcontrol.Usage;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Request and response parsing of the Anthropic Messages API. */
class AnthropicParserTest {

  private final AnthropicParser parser = new AnthropicParser(AnthropicParser.TYPE);

  /** A request as an agentic client sends it: billing header, cache breakpoints, tools, tool use and results. */
  private static final String AGENT_REQUEST = """
      {"model":"claude-x","max_tokens":1024,"stream":true,"cache_salt":"tenant-a",
       "system":[{"type":"text","text":"x-anthropic-billing-header: cc_version=1.0; cch=%s"},
                 {"type":"text","text":"You are a coding agent.","cache_control":{"type":"ephemeral"}}],
       "tools":[{"name":"Read","description":"Reads a file","input_schema":{"type":"object","required":["path"]},
                 "cache_control":{"type":"ephemeral"}}],
       "messages":[
         {"role":"user","content":"Fix the bug"},
         {"role":"assistant","content":[{"type":"thinking","thinking":"look first","signature":"sig"},
                                        {"type":"text","text":"Reading."},
                                        {"type":"tool_use","id":"tu_1","name":"Read","input":{"path":"a.go"}}]},
         {"role":"user","content":[{"type":"tool_result","tool_use_id":"tu_1",
                                    "content":[{"type":"text","text":"line 1"},{"type":"text","text":"line 2"}]},
                                   {"type":"image","source":{"type":"url","url":"https://x/y.png"}},
                                   {"type":"text","text":"go on"%s}]}]}
      """;

  private static final String AGENT_PROMPT = "ReadReads a file{\"type\":\"object\",\"required\":[\"path\"]}"
      + "You are a coding agent."
      + "userFix the bug"
      + "assistantlook firstReading.tu_1Read{\"path\":\"a.go\"}"
      + "userline 1\nline 2https://x/y.pnggo on";

  private ParsedRequest parse(String path, String json) {
    return parser.parseRequest(bytes(json), Map.of(":path", path));
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static String agentRequest(String billingHash, String lastBlockExtra) {
    return AGENT_REQUEST.formatted(billingHash, lastBlockExtra);
  }

  @Test
  void agentRequestPromptIsToolsSystemThenMessagesText() {
    ParsedRequest r = parse("/v1/messages?beta=true", agentRequest("abc", ""));
    assertEquals("claude-x", r.model());
    assertEquals(new RequestBody(Api.MESSAGES, true, "tenant-a", AGENT_PROMPT), r.body());
  }

  @Test
  void perRequestBillingHeaderAndMovedCacheBreakpointsKeepThePrompt() {
    String first = parse("/v1/messages", agentRequest("abc", "")).body().prompt();
    String next = parse("/v1/messages", agentRequest("def", ",\"cache_control\":{\"type\":\"ephemeral\"}"))
        .body().prompt();
    assertEquals(first, next);
  }

  @Test
  void aLongerConversationExtendsThePrompt() {
    String turn1 = "{\"model\":\"m\",\"system\":\"sys\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    String turn2 = "{\"messages\":[{\"content\":\"hi\",\"role\":\"user\"},{\"role\":\"assistant\",\"content\":\"hello\"},"
        + "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"more\"}]}],\"system\":\"sys\",\"model\":\"m\"}";
    assertEquals("sysuserhi", parse("/v1/messages", turn1).body().prompt());
    assertEquals("sysuserhiassistanthellousermore", parse("/v1/messages", turn2).body().prompt());
  }

  @Test
  void countTokensIsForwardedUnparsedAndOtherPathsAreRejected() {
    ParsedRequest count = parse("/v1/messages/count_tokens", "not even json");
    assertEquals("", count.model());
    assertSame(RequestBody.opaque(), count.body());

    InferenceException e = assertThrows(InferenceException.class,
        () -> parse("/v1/chat/completions", "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}"));
    assertEquals(Code.BAD_REQUEST, e.code());
    assertEquals("unsupported API endpoint: /v1/chat/completions", e.getMessage());
    assertEquals("m", parser.parseRequest(bytes("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}"),
        Map.of("x-original-path", "/anthropic/v1/messages")).model(), "the path header fallback, as openai-parser");
  }

  static Stream<Arguments> badRequests() {
    String deep = "[".repeat(300) + "]".repeat(300);
    String message = "[{\"role\":\"user\",\"content\":\"x\"}]";
    return Stream.of(
        Arguments.of("{\"model\":\"m\"}",
            "invalid messages request: 'messages' must be a non-empty array of messages"),
        Arguments.of("{\"model\":\"m\",\"messages\":[]}",
            "invalid messages request: 'messages' must be a non-empty array of messages"),
        Arguments.of("{\"model\":\"m\",\"messages\":null}",
            "invalid messages request: 'messages' must be a non-empty array of messages"),
        Arguments.of("{\"model\":\"m\",\"messages\":\"hi\"}",
            "invalid messages request: 'messages' must be a non-empty array of messages"),
        Arguments.of("{\"model\":\"m\",\"messages\":[\"hi\"]}",
            "'messages[0]' must be an object with 'role' and 'content'"),
        Arguments.of("{\"model\":\"m\",\"messages\":[{\"role\":1,\"content\":\"x\"}]}",
            "'messages[0].role' must be a string"),
        Arguments.of("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"user\",\"content\":7}]}",
            "'messages[1].content' must be a string or an array of content blocks"),
        Arguments.of("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[\"x\"]}]}",
            "'messages[0].content[0]' must be a content block object"),
        Arguments.of("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":{}}]}]}",
            "'messages[0].content[0].text' must be a string"),
        Arguments.of("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
                + "\"content\":[{\"type\":\"text\",\"text\":1}]}]}]}",
            "'messages[0].content[0].content[0].text' must be a string"),
        Arguments.of("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"source\":\"u\"}]}]}",
            "'messages[0].content[0].source' must be an object"),
        Arguments.of("{\"model\":\"m\",\"system\":5,\"messages\":" + message + "}",
            "'system' must be a string or an array of content blocks"),
        Arguments.of("{\"model\":\"m\",\"system\":[{\"type\":\"text\",\"text\":[]}],\"messages\":" + message + "}",
            "'system[0].text' must be a string"),
        Arguments.of("{\"model\":\"m\",\"tools\":{},\"messages\":" + message + "}", "'tools' must be an array of tools"),
        Arguments.of("{\"model\":\"m\",\"tools\":[1],\"messages\":" + message + "}", "'tools[0]' must be an object"),
        Arguments.of("{\"model\":\"m\",\"tools\":[{\"name\":false}],\"messages\":" + message + "}",
            "'tools[0].name' must be a string"),
        Arguments.of("{\"model\":7,\"messages\":" + message + "}", "'model' must be a string"),
        Arguments.of("{\"model\":\"m\",\"stream\":\"yes\",\"messages\":" + message + "}",
            "'stream' must be true or false"),
        Arguments.of("{\"model\":\"m\",\"cache_salt\":1,\"messages\":" + message + "}", "'cache_salt' must be a string"),
        Arguments.of("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_use\",\"input\":"
                + deep + "}]}]}",
            "error unmarshaling request body: the body nests arrays and objects deeper than 256 levels"),
        Arguments.of("{\"model\":\"m\",\n\"messages\":[{\"role\":\"user\",\"content\":\"x\"}",
            "error unmarshaling request body: the JSON ends before it is complete at line 2, column 42"),
        Arguments.of("{\"model\":\"m\",\"messages\":" + message + "} {}",
            "error unmarshaling request body: unexpected data after the JSON object"),
        Arguments.of("[" + message + "]", "error unmarshaling request body: the body is not a JSON object"));
  }

  @ParameterizedTest
  @MethodSource("badRequests")
  void invalidBodiesAreBadRequestsThatNameTheField(String body, String message) {
    InferenceException e = assertThrows(InferenceException.class, () -> parse("/v1/messages", body));
    assertEquals(Code.BAD_REQUEST, e.code());
    assertEquals(message, e.getMessage());
  }

  @Test
  void bodiesInUtf16AreBadRequests() {
    String body = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    InferenceException e = assertThrows(InferenceException.class, () -> parser.parseRequest(
        body.getBytes(StandardCharsets.UTF_16), Map.of(":path", "/v1/messages")));
    assertEquals("error unmarshaling request body: the body is not UTF-8 JSON", e.getMessage());
  }

  @Test
  void nullFieldsCountAsAbsent() {
    ParsedRequest r = parse("/v1/messages", "{\"model\":null,\"stream\":null,\"system\":null,\"tools\":null,"
        + "\"messages\":[{\"role\":\"user\",\"content\":null}]}");
    assertEquals("", r.model());
    assertFalse(r.body().stream());
    assertEquals("user", r.body().prompt());
  }

  @Test
  void withModelReplacesOnlyTheModelAndKeepsKeyOrder() throws Exception {
    byte[] rewritten = parser.withModel(
        bytes("{\"max_tokens\":10,\"model\":\"a\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}"), "b");
    assertEquals("{\"max_tokens\":10,\"model\":\"b\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
        new String(rewritten, StandardCharsets.UTF_8));
    assertEquals("b", new ObjectMapper().readTree(rewritten).get("model").asText());
  }

  @Test
  void usageFromAJsonBody() {
    String body = "{\"id\":\"msg_1\",\"type\":\"message\",\"content\":[{\"type\":\"text\",\"text\":\"usage\"}],"
        + "\"usage\":{\"input_tokens\":25,\"cache_creation_input_tokens\":3,\"cache_read_input_tokens\":20,"
        + "\"output_tokens\":15}}";
    assertEquals(new Usage(25, 15, 40, 20), parser.parseResponse(bytes(body), false));
    assertEquals(new Usage(7, 0, 7, 0), parser.parseResponse(bytes("{\"usage\":{\"input_tokens\":7}}"), false));
    assertNull(parser.parseResponse(bytes("{\"input_tokens\":7}"), false), "a count_tokens answer has no usage");
    assertNull(parser.parseResponse(bytes("{\"usage\":"), false));
    assertNull(parser.parseResponse(new byte[0], false));
  }

  @Test
  void usageFromServerSentEvents() {
    String start = "event: message_start\n"
        + "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"usage\":{\"input_tokens\":25,"
        + "\"cache_read_input_tokens\":20,\"output_tokens\":1}}}\n\n";
    String text = "event: content_block_delta\n"
        + "data: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"no \\\"usage\\\" here\"}}\n\n";
    String delta = "event: message_delta\n"
        + "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":15}}\n\n"
        + "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    assertEquals(new Usage(25, 0, 25, 20), parser.parseResponse(bytes(start), true));
    assertNull(parser.parseResponse(bytes(text), true));
    assertEquals(new Usage(0, 15, 15, 0), parser.parseResponse(bytes(delta), true));
    assertEquals(new Usage(25, 15, 40, 20), parser.parseResponse(bytes(start + text + delta), true));
    assertNull(parser.parseResponse(bytes("data: {\"type\":\"message_delta\",\"usage\":{\"output_"), true),
        "a partial event reports nothing");
  }
}
