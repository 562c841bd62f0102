package dev.epp.scheduler.plugins.parser;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.core.io.JsonEOFException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.epp.api.InferenceException;
import dev.epp.api.InferenceException.Code;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;

/**
 * What the JSON parsers share: one bounded streaming pass over a request body's top-level fields with errors in the
 * client's terms, the request path, model rewrites and server-sent-event data lines.
 *
 * <p><b>Threading:</b> stateless; thread-safe.
 */
final class JsonBodies {

  /** The deepest nesting of arrays and objects a request body may have. */
  static final int MAX_NESTING_DEPTH = 256;

  private static final StreamReadConstraints LIMITS =
      StreamReadConstraints.builder().maxNestingDepth(MAX_NESTING_DEPTH).build();

  /** The JSON factory every parser reads with, limited to {@link #MAX_NESTING_DEPTH}. */
  static final JsonFactory JSON = JsonFactory.builder().streamReadConstraints(LIMITS).build();

  private static final ObjectMapper MAPPER = new ObjectMapper(JSON);

  private JsonBodies() {}

  /** Reads one top-level field; the parser is at its value, which the reader must consume. */
  @FunctionalInterface
  interface FieldReader {
    void read(String name, JsonToken value, JsonParser parser) throws IOException;
  }

  /**
   * Passes each top-level field of a UTF-8 JSON object body to {@code fields}.
   *
   * @throws InferenceException {@code BAD_REQUEST} if the body is not one UTF-8 JSON object within the limits
   */
  static void readObject(byte[] body, FieldReader fields) {
    if (!utf8(body)) {
      throw badRequest("error unmarshaling request body: the body is not UTF-8 JSON");
    }
    try (JsonParser parser = JSON.createParser(body)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        throw badRequest("error unmarshaling request body: the body is not a JSON object");
      }
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String name = parser.currentName();
        JsonToken value = parser.nextToken();
        fields.read(name, value, parser);
      }
      if (parser.nextToken() != null) {
        throw badRequest("error unmarshaling request body: unexpected data after the JSON object");
      }
    } catch (JsonProcessingException e) {
      throw badRequest("error unmarshaling request body: " + describe(e));
    } catch (IOException e) {
      throw badRequest("error unmarshaling request body: the body is not valid JSON");
    }
  }

  /** A string value, {@code ""} for {@code null}; {@code what} names the field in the error otherwise. */
  static String string(String what, JsonToken value, JsonParser parser) throws IOException {
    if (value == JsonToken.VALUE_NULL) {
      return "";
    }
    if (value != JsonToken.VALUE_STRING) {
      throw badRequest("'" + what + "' must be a string");
    }
    return parser.getText();
  }

  /** As {@link #string(String, JsonToken, JsonParser)} for {@code field} of the object at {@code where}. */
  static String string(String where, String field, JsonToken value, JsonParser parser) throws IOException {
    if (value == JsonToken.VALUE_STRING) {
      return parser.getText();
    }
    return string(where + "." + field, value, parser);
  }

  /** A {@code stream} flag: {@code true} only for {@code true}; {@code null} counts as absent. */
  static boolean stream(JsonToken value) {
    if (value != JsonToken.VALUE_TRUE && value != JsonToken.VALUE_FALSE && value != JsonToken.VALUE_NULL) {
      throw badRequest("'stream' must be true or false");
    }
    return value == JsonToken.VALUE_TRUE;
  }

  /** The byte offset where the current value starts. */
  static int start(JsonParser parser) {
    return (int) parser.currentTokenLocation().getByteOffset();
  }

  /**
   * The raw JSON text from {@code start} to the end of the current value, consuming the value if the parser is still
   * at its first token.
   */
  static String raw(JsonParser parser, byte[] body, int start) throws IOException {
    if (parser.currentToken().isStructStart()) {
      parser.skipChildren();
    } else {
      parser.finishToken();
    }
    int end = (int) parser.currentLocation().getByteOffset();
    return new String(body, start, end - start, StandardCharsets.UTF_8);
  }

  /**
   * The request path ({@code :path}, else {@code x-original-path}, else {@code x-forwarded-path}, an empty header
   * counting as absent; else {@code /v1/completions}) without query string, trailing whitespace and one trailing
   * {@code /}: the path the Director selects the parser by.
   */
  static String path(Map<String, String> headers) {
    String path = headers.get(":path");
    if (path == null || path.isEmpty()) {
      path = headers.get("x-original-path");
    }
    if (path == null || path.isEmpty()) {
      path = headers.get("x-forwarded-path");
    }
    if (path == null || path.isEmpty()) {
      return "/v1/completions";
    }
    int query = path.indexOf('?');
    int end = query >= 0 ? query : path.length();
    while (end > 0 && Character.isWhitespace(path.charAt(end - 1))) {
      end--;
    }
    if (end > 0 && path.charAt(end - 1) == '/') {
      end--;
    }
    return path.substring(0, end);
  }

  /** The body re-serialised (key order kept) with its top-level {@code model} set to {@code model}. */
  static byte[] withModel(byte[] body, String model) {
    try {
      ObjectNode tree = (ObjectNode) MAPPER.readTree(body);
      tree.put("model", model);
      return MAPPER.writeValueAsBytes(tree);
    } catch (IOException | ClassCastException e) {
      throw new InferenceException(Code.INTERNAL, "cannot rewrite the request body's model: " + e.getMessage());
    }
  }

  /** Index just after {@code data:} (and one optional space) if the line is a data line, else -1. */
  static int dataStart(byte[] chunk, int start, int end) {
    int length = end - start;
    if (length >= 5 && chunk[start] == 'd' && chunk[start + 1] == 'a' && chunk[start + 2] == 't'
        && chunk[start + 3] == 'a' && chunk[start + 4] == ':') {
      int i = start + 5;
      return i < end && chunk[i] == ' ' ? i + 1 : i;
    }
    return -1;
  }

  /** Whether {@code length} bytes of {@code data} from {@code offset} contain {@code key}. */
  static boolean contains(byte[] data, int offset, int length, byte[] key) {
    int last = offset + length - key.length;
    for (int i = offset; i <= last; i++) {
      if (data[i] == key[0] && Arrays.equals(data, i, i + key.length, key, 0, key.length)) {
        return true;
      }
    }
    return false;
  }

  static InferenceException badRequest(String message) {
    return new InferenceException(Code.BAD_REQUEST, message);
  }

  /**
   * Whether the body can be UTF-8: JSON in UTF-16 or UTF-32 (which the JSON library would decode) has a zero byte
   * among its first four or starts with a UTF-16 byte-order mark, which UTF-8 JSON never does.
   */
  private static boolean utf8(byte[] body) {
    if (body.length >= 2 && (body[0] & 0xff) >= 0xfe) {
      return false;
    }
    for (int i = 0; i < Math.min(4, body.length); i++) {
      if (body[i] == 0) {
        return false;
      }
    }
    return true;
  }

  /** What is wrong with a body the JSON library cannot read, in the client's terms, with where it is. */
  private static String describe(JsonProcessingException e) {
    String message = e.getOriginalMessage();
    String what;
    if (e instanceof StreamConstraintsException) {
      what = message.startsWith("Document nesting depth")
          ? "the body nests arrays and objects deeper than " + LIMITS.getMaxNestingDepth() + " levels"
          : message.startsWith("Number value length")
              ? "a number is longer than " + LIMITS.getMaxNumberLength() + " characters"
              : message.startsWith("Name length")
                  ? "a field name is longer than " + LIMITS.getMaxNameLength() + " characters"
                  : "a string is longer than " + LIMITS.getMaxStringLength() + " characters";
    } else if (e instanceof JsonEOFException) {
      what = "the JSON ends before it is complete";
    } else if (message.startsWith("Non-standard token")) {
      what = "NaN and Infinity are not valid JSON numbers";
    } else if (message.contains("ALLOW_LEADING_PLUS_SIGN")) {
      what = "JSON numbers cannot start with '+'";
    } else if (message.contains("ALLOW_COMMENTS")) {
      what = "comments are not allowed in JSON";
    } else if (message.contains("`") || message.contains("Feature")) {
      what = "invalid JSON"; // any other message that names the library's switches
    } else {
      what = message; // e.g. Unexpected character ('}' (code 125)): was expecting double-quote to start field name
    }
    JsonLocation at = e.getLocation();
    return at == null || at.getLineNr() < 1 ? what
        : what + " at line " + at.getLineNr() + ", column " + at.getColumnNr();
  }
}
