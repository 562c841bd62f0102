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
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestBody;
import dev.epp.api.RequestBody.Api;
import dev.epp.api.TypedName;
import dev.epp.api.requestcontrol.ParsedRequest;
import dev.epp.api.requestcontrol.RequestParser;
import dev.epp.api.requestcontrol.Usage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * Parses OpenAI-style JSON: completions, chat completions, responses, conversations and embeddings, chosen by the
 * request path ({@code :path}, else {@code x-original-path}, else {@code x-forwarded-path}; suffix match, query string
 * ignored; anything else is completions), as the Go EPP's {@code openai-parser}.
 *
 * <p>Requests are read with one streaming pass that builds no tree: {@code model}, {@code stream},
 * {@code cache_salt}, and the user input as {@link RequestBody#prompt()} (the completion prompt, array prompts joined by
 * a space; for the other APIs the raw JSON of {@code messages}, {@code items} or {@code input}, and for responses
 * {@code [{"instructions":…},{"tools":…},{"input":…}]}). Each API's required field must be present and non-empty, else
 * the request fails with {@code BAD_REQUEST}; so does a body that is not UTF-8 JSON, nests deeper than
 * {@value #MAX_NESTING_DEPTH} levels, or has a {@code model} or {@code cache_salt} that is not a string or a
 * {@code stream} that is not a boolean ({@code null} counts as absent). Error messages say what is wrong and where,
 * never in the JSON library's terms. A body is rewritten (re-serialised, key order kept) only for a model rewrite.
 *
 * <p>Response usage comes from a JSON body's {@code usage} or from the {@code data:} lines of a server-sent-event
 * chunk ({@code [DONE]} skipped; the Responses API's {@code response.completed} event carries it under
 * {@code response.usage}). Cached tokens are read from {@code prompt_tokens_details.cached_tokens}, the field OpenAI
 * and vLLM send; the Go EPP reads the misspelt {@code prompt_token_details}, which is accepted too. No parameters.
 */
public final class OpenAiParser implements RequestParser {

  /** The plugin type. */
  public static final String TYPE = "openai-parser";

  /** The deepest nesting of arrays and objects a request body may have. */
  public static final int MAX_NESTING_DEPTH = 256;

  private static final StreamReadConstraints LIMITS =
      StreamReadConstraints.builder().maxNestingDepth(MAX_NESTING_DEPTH).build();
  private static final JsonFactory JSON = JsonFactory.builder().streamReadConstraints(LIMITS).build();
  private static final ObjectMapper MAPPER = new ObjectMapper(JSON);
  private static final UsageReader USAGE = new UsageReader(JSON);

  private final TypedName typedName;

  /** A parser named {@code name}. */
  public OpenAiParser(String name) {
    this.typedName = new TypedName(TYPE, name);
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public ParsedRequest parseRequest(byte[] body, Map<String, String> headers) {
    Api api = api(headers);
    if (!utf8(body)) {
      throw badRequest("error unmarshaling request body: the body is not UTF-8 JSON");
    }
    RequestFields fields = new RequestFields();
    try (JsonParser parser = JSON.createParser(body)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        throw badRequest("error unmarshaling request body: the body is not a JSON object");
      }
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String name = parser.currentName();
        JsonToken value = parser.nextToken();
        fields.read(name, value, parser, body);
      }
      if (parser.nextToken() != null) {
        throw badRequest("error unmarshaling request body: unexpected data after the JSON object");
      }
    } catch (JsonProcessingException e) {
      throw badRequest("error unmarshaling request body: " + describe(e));
    } catch (IOException e) {
      throw badRequest("error unmarshaling request body: the body is not valid JSON");
    }
    return new ParsedRequest(fields.model, new RequestBody(api, fields.stream, fields.cacheSalt, fields.prompt(api)));
  }

  @Override
  public byte[] withModel(byte[] body, String model) {
    try {
      ObjectNode tree = (ObjectNode) MAPPER.readTree(body);
      tree.put("model", model);
      return MAPPER.writeValueAsBytes(tree);
    } catch (IOException | ClassCastException e) {
      throw new InferenceException(Code.INTERNAL, "cannot rewrite the request body's model: " + e.getMessage());
    }
  }

  @Override
  public Usage parseResponse(byte[] chunk, boolean eventStream) {
    if (chunk.length == 0) {
      return null;
    }
    if (!eventStream) {
      return USAGE.read(chunk, 0, chunk.length);
    }
    int lineStart = 0;
    while (lineStart < chunk.length) {
      int lineEnd = lineStart;
      while (lineEnd < chunk.length && chunk[lineEnd] != '\n') {
        lineEnd++;
      }
      int start = dataStart(chunk, lineStart, lineEnd);
      if (start >= 0) {
        Usage usage = USAGE.read(chunk, start, lineEnd - start);
        if (usage != null) {
          return usage;
        }
      }
      lineStart = lineEnd + 1;
    }
    return null;
  }

  /** The API a request path selects. */
  static Api api(Map<String, String> headers) {
    String path = headers.get(":path");
    if (path == null) {
      path = headers.getOrDefault("x-original-path", headers.getOrDefault("x-forwarded-path", ""));
    }
    int query = path.indexOf('?');
    if (query >= 0) {
      path = path.substring(0, query);
    }
    if (path.endsWith("/conversations")) {
      return Api.CONVERSATIONS;
    } else if (path.endsWith("/responses")) {
      return Api.RESPONSES;
    } else if (path.endsWith("/chat/completions")) {
      return Api.CHAT_COMPLETIONS;
    } else if (path.endsWith("/embeddings")) {
      return Api.EMBEDDINGS;
    }
    return Api.COMPLETIONS;
  }

  /** Index just after {@code data:} (and one optional space) if the line is a data line, else -1. */
  private static int dataStart(byte[] chunk, int start, int end) {
    int length = end - start;
    if (length >= 5 && chunk[start] == 'd' && chunk[start + 1] == 'a' && chunk[start + 2] == 't'
        && chunk[start + 3] == 'a' && chunk[start + 4] == ':') {
      int i = start + 5;
      return i < end && chunk[i] == ' ' ? i + 1 : i;
    }
    return -1;
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

  private static InferenceException badRequest(String message) {
    return new InferenceException(Code.BAD_REQUEST, message);
  }

  /** The top-level fields one streaming pass collects. */
  private static final class RequestFields {
    String model = "";
    boolean stream;
    String cacheSalt = "";
    String completionPrompt;
    boolean promptPresent;
    String messages;
    int messageCount;
    String items;
    int itemCount;
    String input;
    String instructions;
    String tools;

    void read(String name, JsonToken value, JsonParser parser, byte[] body) throws IOException {
      switch (name) {
        case "model" -> model = string(name, value, parser);
        case "stream" -> {
          if (value != JsonToken.VALUE_TRUE && value != JsonToken.VALUE_FALSE && value != JsonToken.VALUE_NULL) {
            throw badRequest("'stream' must be true or false");
          }
          stream = value == JsonToken.VALUE_TRUE;
        }
        case "cache_salt" -> cacheSalt = string(name, value, parser);
        case "prompt" -> {
          promptPresent = true;
          completionPrompt = prompt(value, parser);
        }
        case "messages" -> {
          int start = start(parser);
          messageCount = value == JsonToken.START_ARRAY ? count(parser) : -1;
          messages = raw(parser, body, start);
        }
        case "items" -> {
          int start = start(parser);
          itemCount = value == JsonToken.START_ARRAY ? count(parser) : -1;
          items = raw(parser, body, start);
        }
        case "input" -> input = raw(parser, body, start(parser));
        case "instructions" -> instructions = raw(parser, body, start(parser));
        case "tools" -> tools = raw(parser, body, start(parser));
        default -> parser.skipChildren();
      }
    }

    String prompt(Api api) {
      switch (api) {
        case CHAT_COMPLETIONS -> {
          if (messageCount <= 0) {
            throw badRequest("invalid chat completions request: 'messages' must be a non-empty array");
          }
          return messages;
        }
        case CONVERSATIONS -> {
          if (itemCount <= 0) {
            throw badRequest("invalid conversations request: 'items' must be a non-empty array");
          }
          return items;
        }
        case RESPONSES -> {
          if (input == null) {
            throw badRequest("invalid responses request: 'input' is required");
          }
          StringBuilder sb = new StringBuilder("[");
          if (instructions != null) {
            sb.append("{\"instructions\":").append(instructions).append("},");
          }
          if (tools != null) {
            sb.append("{\"tools\":").append(tools).append("},");
          }
          return sb.append("{\"input\":").append(input).append("}]").toString();
        }
        case EMBEDDINGS -> {
          if (input == null) {
            throw badRequest("invalid embeddings request: 'input' is required");
          }
          return input;
        }
        default -> {
          if (!promptPresent || completionPrompt == null || completionPrompt.isEmpty()) {
            throw badRequest("invalid completions request: 'prompt' must be a non-empty string or array of strings");
          }
          return completionPrompt;
        }
      }
    }

    /** A string field's value, {@code ""} for {@code null}. */
    private static String string(String name, JsonToken value, JsonParser parser) throws IOException {
      if (value == JsonToken.VALUE_NULL) {
        return "";
      }
      if (value != JsonToken.VALUE_STRING) {
        throw badRequest("'" + name + "' must be a string");
      }
      return parser.getText();
    }

    /** A string prompt, or the strings of an array prompt joined by a space; {@code null} for anything else. */
    private static String prompt(JsonToken value, JsonParser parser) throws IOException {
      if (value == JsonToken.VALUE_STRING) {
        return parser.getText();
      }
      if (value != JsonToken.START_ARRAY) {
        parser.skipChildren();
        return null;
      }
      StringBuilder joined = new StringBuilder();
      boolean valid = true;
      JsonToken token;
      while ((token = parser.nextToken()) != JsonToken.END_ARRAY) {
        if (token == JsonToken.VALUE_STRING) {
          if (joined.length() > 0) {
            joined.append(' ');
          }
          joined.append(parser.getText());
        } else {
          valid = false;
          parser.skipChildren();
        }
      }
      return valid ? joined.toString() : null;
    }

    /** Counts the elements of the array the parser is at, leaving it at the array's end. */
    private static int count(JsonParser parser) throws IOException {
      int count = 0;
      while (parser.nextToken() != JsonToken.END_ARRAY) {
        parser.skipChildren();
        count++;
      }
      return count;
    }

    /** The byte offset where the current value starts. */
    private static int start(JsonParser parser) {
      return (int) parser.currentTokenLocation().getByteOffset();
    }

    /**
     * The raw JSON text from {@code start} to the end of the current value, consuming the value if the parser is
     * still at its first token.
     */
    private static String raw(JsonParser parser, byte[] body, int start) throws IOException {
      if (parser.currentToken().isStructStart()) {
        parser.skipChildren();
      } else {
        parser.finishToken();
      }
      int end = (int) parser.currentLocation().getByteOffset();
      return new String(body, start, end - start, StandardCharsets.UTF_8);
    }
  }

  /** Creates {@link OpenAiParser}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public OpenAiParser create(PluginSpec spec, PluginHandle handle) {
      return new OpenAiParser(spec.name());
    }
  }
}
