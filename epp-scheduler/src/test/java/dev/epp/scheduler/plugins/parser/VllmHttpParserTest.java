package dev.epp.scheduler.plugins.parser;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

/** Request and response parsing of vLLM's pre-tokenized generate API. */
class VllmHttpParserTest {

  private final VllmHttpParser parser = new VllmHttpParser(VllmHttpParser.TYPE);

  private ParsedRequest parse(String path, String json) {
    return parser.parseRequest(bytes(json), Map.of(":path", path));
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void tokenIdsAreThePromptFourCharactersPerToken() {
    ParsedRequest r = parse("/inference/v1/generate?x=1", "{\"model\":\"llama\",\"stream\":true,\"cache_salt\":\"s\","
        + "\"token_ids\":[1,258,4294967295,7.0],\"sampling_params\":{\"max_tokens\":8},"
        + "\"features\":{\"mm_hashes\":{\"image\":[\"h\"]}}}");
    assertEquals("llama", r.model());
    assertEquals(new RequestBody(Api.GENERATE, true, "s",
        "\0\0\0\u0001" + "\0\0\u0001\u0002" + "\u00ff\u00ff\u00ff\u00ff" + "\0\0\0\u0007"), r.body());
  }

  @Test
  void aLongerTokenSequenceExtendsThePrompt() {
    String short1 = parse("/inference/v1/generate", "{\"model\":\"m\",\"token_ids\":[5,6]}").body().prompt();
    String long1 = parse("/inference/v1/generate", "{\"token_ids\":[5,6,7],\"model\":\"m\"}").body().prompt();
    assertTrue(long1.startsWith(short1));
    assertEquals(12, long1.length());
  }

  @Test
  void otherPathsAreRejected() {
    InferenceException e = assertThrows(InferenceException.class,
        () -> parse("/v1/completions", "{\"model\":\"m\",\"token_ids\":[1]}"));
    assertEquals(Code.BAD_REQUEST, e.code());
    assertEquals("unsupported path: /v1/completions", e.getMessage());
    assertEquals("m", parser.parseRequest(bytes("{\"model\":\"m\",\"token_ids\":[1]}"),
        Map.of("x-forwarded-path", "/vllm/inference/v1/generate")).model());
  }

  static Stream<Arguments> badRequests() {
    return Stream.of(
        Arguments.of("{\"model\":\"m\"}", "invalid generate request: must have non-empty token_ids field"),
        Arguments.of("{\"model\":\"m\",\"token_ids\":[]}", "invalid generate request: must have non-empty token_ids field"),
        Arguments.of("{\"model\":\"m\",\"token_ids\":null}",
            "invalid generate request: must have non-empty token_ids field"),
        Arguments.of("{\"model\":\"m\",\"token_ids\":\"1 2\"}",
            "invalid generate request: 'token_ids' must be an array of token ids"),
        Arguments.of("{\"model\":\"m\",\"token_ids\":[1,-1]}",
            "invalid generate request: 'token_ids[1]' must be an integer from 0 to 4294967295"),
        Arguments.of("{\"model\":\"m\",\"token_ids\":[4294967296]}",
            "invalid generate request: 'token_ids[0]' must be an integer from 0 to 4294967295"),
        Arguments.of("{\"model\":\"m\",\"token_ids\":[99999999999999999999999]}",
            "invalid generate request: 'token_ids[0]' must be an integer from 0 to 4294967295"),
        Arguments.of("{\"model\":\"m\",\"token_ids\":[1.5]}",
            "invalid generate request: 'token_ids[0]' must be an integer from 0 to 4294967295"),
        Arguments.of("{\"model\":\"m\",\"token_ids\":[1,\"2\"]}",
            "invalid generate request: 'token_ids[1]' must be an integer from 0 to 4294967295"),
        Arguments.of("{\"model\":\"m\",\"token_ids\":[[1]]}",
            "invalid generate request: 'token_ids[0]' must be an integer from 0 to 4294967295"),
        Arguments.of("{\"model\":1,\"token_ids\":[1]}", "'model' must be a string"),
        Arguments.of("{\"model\":\"m\",\"stream\":1,\"token_ids\":[1]}", "'stream' must be true or false"),
        Arguments.of("{\"model\":\"m\",\"token_ids\":[1,NaN]}",
            "error unmarshaling request body: NaN and Infinity are not valid JSON numbers at line 1, column 32"),
        Arguments.of("{\"model\":\"m\",\"x\":" + "[".repeat(300) + "]".repeat(300) + ",\"token_ids\":[1]}",
            "error unmarshaling request body: the body nests arrays and objects deeper than 256 levels"),
        Arguments.of("{\"model\":\"m\",\"token_ids\":[1,2",
            "error unmarshaling request body: the JSON ends before it is complete at line 1, column 30"));
  }

  @ParameterizedTest
  @MethodSource("badRequests")
  void invalidBodiesAreBadRequests(String body, String message) {
    InferenceException e = assertThrows(InferenceException.class, () -> parse("/inference/v1/generate", body));
    assertEquals(Code.BAD_REQUEST, e.code());
    assertEquals(message, e.getMessage());
  }

  @Test
  void withModelReplacesTheModel() {
    assertEquals("{\"token_ids\":[1],\"model\":\"b\"}", new String(
        parser.withModel(bytes("{\"token_ids\":[1],\"model\":\"a\"}"), "b"), StandardCharsets.UTF_8));
  }

  @Test
  void usageAsTheOpenAiParserReadsIt() {
    assertEquals(new Usage(4, 2, 6, 1), parser.parseResponse(bytes("{\"usage\":{\"prompt_tokens\":4,"
        + "\"completion_tokens\":2,\"total_tokens\":6,\"prompt_tokens_details\":{\"cached_tokens\":1}}}"), false));
    assertEquals(new Usage(4, 2, 6, 0), parser.parseResponse(bytes("data: {\"choices\":[],\"usage\":{"
        + "\"prompt_tokens\":4,\"completion_tokens\":2,\"total_tokens\":6}}\n\ndata: [DONE]\n\n"), true));
  }
}
