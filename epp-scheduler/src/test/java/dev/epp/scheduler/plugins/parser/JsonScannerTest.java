package dev.epp.scheduler.plugins.parser;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import dev.epp.api.InferenceException;
import dev.epp.api.requestcontrol.ParsedRequest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The scanner against the JSON library: whatever it accepts, the library accepts with the same top-level fields, value
 * boundaries and array sizes; what the library refuses, the scanner refuses.
 */
class JsonScannerTest {

  private static final String[] SEEDS = {
      "{\"model\":\"m\",\"stream\":true,\"max_tokens\":128,\"temperature\":-0.5e+3,\"stop\":null,\"messages\":["
          + "{\"role\":\"user\",\"content\":\"h\\u00e9llo \\\"w\\\"\\n\\t\\\\ caf\u00e9 \u4e2d\u6587 \ud83d\ude00\"},"
          + "{\"role\":\"tool\",\"content\":[{\"type\":\"text\",\"text\":\"x\"},1,2.5,false,{}],\"n\":[]}]}",
      " {\r\n \"prompt\" : [ \"a\" , \"b\" ] ,\t\"model\":\"x\", \"cache_salt\": \"\" } ",
      "{}",
      "{\"input\":{\"a\":{\"b\":[[[]]]}},\"items\":[0,-0,10,1E5,1e-2]}",
  };

  @Test
  void readsTheTopLevelFieldsOfValidBodies() throws IOException {
    for (String seed : SEEDS) {
      byte[] body = seed.getBytes(StandardCharsets.UTF_8);
      List<JsonScanner.Field> scanned = JsonScanner.fields(body);
      assertNotNull(scanned, seed);
      assertEquals(library(body), scanned, seed);
    }
    JsonScanner.Field messages = JsonScanner.fields(SEEDS[0].getBytes(StandardCharsets.UTF_8)).get(5);
    assertEquals("messages", messages.name());
    assertEquals(2, messages.elements());
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "{\"a\":1,}", "{\"a\":[1,]}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":+1}", "{\"a\":-}", "{\"a\":1e}",
      "{\"a\":NaN}", "{\"a\":truex}", "{\"a\":nul}", "{'a':1}", "{\"a\":'x'}", "{\"a\":\"\\x\"}",
      "{\"a\":\"\\u12g4\"}", "{\"a\":\"tab\there\"}", "{\"a\":\"unterminated}", "{\"a\":1} x", "{\"a\":1}{}",
      "{\"a\" 1}", "{\"a\":1 \"b\":2}", "{\"a\":/*c*/1}", "[1]", "\"x\"", "", "{", "{\"a\":[1 2]}", "{\"a\":{1:2}}",
      "{\"a\\u0062\":1}", "{\"a\":\"\u00e9\"} \u00a0"})
  void refusesWhatItDoesNotAccept(String json) {
    assertNull(JsonScanner.fields(json.getBytes(StandardCharsets.UTF_8)), json);
  }

  @Test
  void refusesMalformedUtf8AndWhatIsOverTheLimits() {
    byte[][] bodies = {
        utf8WithString(0xc0, 0x80), // overlong
        utf8WithString(0xe0, 0x80, 0x80), // overlong
        utf8WithString(0xed, 0xa0, 0x80), // a surrogate
        utf8WithString(0xf4, 0x90, 0x80, 0x80), // over U+10FFFF
        utf8WithString(0xf5, 0x80, 0x80, 0x80),
        utf8WithString(0xc3), // truncated
        utf8WithString(0x80), // a lone continuation byte
        ("{\"a\":" + "[".repeat(300) + "]".repeat(300) + "}").getBytes(StandardCharsets.UTF_8),
        ("{\"a\":" + "1".repeat(1001) + "}").getBytes(StandardCharsets.UTF_8),
        ("{\"a\":{\"" + "k".repeat(1001) + "\":1}}").getBytes(StandardCharsets.UTF_8),
    };
    for (byte[] body : bodies) {
      assertNull(JsonScanner.fields(body));
    }
  }

  /** Random byte edits of valid bodies: never accepted where the library refuses, never read differently. */
  @Test
  void agreesWithTheLibraryOnMutatedBodies() throws IOException {
    byte[] alphabet = "{}[]\":,\\ntfu0-+.eE \t\r\n".getBytes(StandardCharsets.UTF_8);
    Random random = new Random(42);
    int accepted = 0;
    for (int i = 0; i < 20_000; i++) {
      byte[] body = SEEDS[random.nextInt(SEEDS.length)].getBytes(StandardCharsets.UTF_8);
      for (int edits = 1 + random.nextInt(2); edits > 0 && body.length > 0; edits--) {
        body = mutate(body, random, alphabet);
      }
      List<JsonScanner.Field> scanned = JsonScanner.fields(body);
      if (scanned != null) {
        accepted++;
        assertEquals(library(body), scanned, new String(body, StandardCharsets.UTF_8));
      }
    }
    assertTrue(accepted > 1_000, "too few mutants are valid JSON to compare: " + accepted);
  }

  @Test
  void aLongChatBodyIsReadAsTheLibraryReadsIt() {
    String messages = "[{\"role\":\"user\",\"content\":\"" + "caf\u00e9 \\\"x\\\"\\n ".repeat(1000) + "\"}]";
    String json = "{\"model\":\"m\",\"messages\":" + messages + ",\"stream\":true}";
    ParsedRequest parsed = new OpenAiParser(OpenAiParser.TYPE)
        .parseRequest(json.getBytes(StandardCharsets.UTF_8), Map.of(":path", "/v1/chat/completions"));
    assertEquals(messages, parsed.body().prompt());
    assertEquals("m", parsed.model());
    assertTrue(parsed.body().stream());
  }

  @Test
  void aLongBodyTheScannerRefusesGetsTheLibrarysErrorAndPlace() {
    String json = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"" + "x".repeat(5000) + "\"},]}";
    InferenceException e = assertThrows(InferenceException.class, () -> new OpenAiParser(OpenAiParser.TYPE)
        .parseRequest(json.getBytes(StandardCharsets.UTF_8), Map.of(":path", "/v1/chat/completions")));
    assertEquals("error unmarshaling request body: Unexpected character (']' (code 93)): expected a value "
        + "at line 1, column 5055", e.getMessage());
  }

  private static byte[] mutate(byte[] body, Random random, byte[] alphabet) {
    int at = random.nextInt(body.length);
    byte b = alphabet[random.nextInt(alphabet.length)];
    byte[] out;
    switch (random.nextInt(3)) {
      case 0 -> {
        out = body.clone();
        out[at] = b;
      }
      case 1 -> {
        out = new byte[body.length + 1];
        System.arraycopy(body, 0, out, 0, at);
        out[at] = b;
        System.arraycopy(body, at, out, at + 1, body.length - at);
      }
      default -> {
        out = new byte[body.length - 1];
        System.arraycopy(body, 0, out, 0, at);
        System.arraycopy(body, at + 1, out, at, body.length - at - 1);
      }
    }
    return out;
  }

  private static byte[] utf8WithString(int... content) {
    byte[] body = new byte[content.length + 9];
    byte[] head = "{\"a\":\"".getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(head, 0, body, 0, head.length);
    for (int i = 0; i < content.length; i++) {
      body[head.length + i] = (byte) content[i];
    }
    body[body.length - 3] = 'x';
    body[body.length - 2] = '"';
    body[body.length - 1] = '}';
    return body;
  }

  /** The top-level fields as the JSON library reads them; {@code null} where it refuses the body. */
  private static List<JsonScanner.Field> library(byte[] body) throws IOException {
    try (JsonParser parser = JsonBodies.JSON.createParser(body)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        return null;
      }
      List<JsonScanner.Field> fields = new ArrayList<>();
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String name = parser.currentName();
        JsonToken value = parser.nextToken();
        int start = (int) parser.currentTokenLocation().getByteOffset();
        int elements = -1;
        if (value == JsonToken.START_ARRAY) {
          elements = 0;
          while (parser.nextToken() != JsonToken.END_ARRAY) {
            parser.skipChildren();
            elements++;
          }
        } else if (value.isStructStart()) {
          parser.skipChildren();
        } else {
          parser.finishToken();
        }
        fields.add(new JsonScanner.Field(name, start, (int) parser.currentLocation().getByteOffset(), elements));
      }
      return parser.nextToken() == null ? fields : null;
    } catch (JsonProcessingException e) {
      return null;
    }
  }
}
