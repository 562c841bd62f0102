package dev.epp.scheduler.plugins.parser;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
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
import java.util.List;
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
  public static final int MAX_NESTING_DEPTH = JsonBodies.MAX_NESTING_DEPTH;

  private static final UsageReader USAGE = new UsageReader(JsonBodies.JSON);

  private static final List<String> PATHS =
      List.of("chat/completions", "completions", "embeddings", "responses", "conversations");

  private final TypedName typedName;

  /** A parser named {@code name}. */
  public OpenAiParser(String name) {
    this.typedName = new TypedName(TYPE, name);
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  /**
   * The APIs this parser reads: {@code chat/completions}, {@code completions}, {@code embeddings}, {@code responses},
   * {@code conversations}. llm-d's also claims {@code images/generations} and the {@code /render} paths, which this
   * parser does not read.
   */
  @Override
  public List<String> paths() {
    return PATHS;
  }

  @Override
  public ParsedRequest parseRequest(byte[] body, Map<String, String> headers) {
    Api api = api(headers);
    RequestFields fields = new RequestFields();
    JsonBodies.readObject(body, (name, value, parser) -> fields.read(name, value, parser, body));
    return new ParsedRequest(fields.model, new RequestBody(api, fields.stream, fields.cacheSalt, fields.prompt(api)));
  }

  @Override
  public byte[] withModel(byte[] body, String model) {
    return JsonBodies.withModel(body, model);
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
      int start = JsonBodies.dataStart(chunk, lineStart, lineEnd);
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
    String path = JsonBodies.path(headers);
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
        case "model" -> model = JsonBodies.string(name, value, parser);
        case "stream" -> stream = JsonBodies.stream(value);
        case "cache_salt" -> cacheSalt = JsonBodies.string(name, value, parser);
        case "prompt" -> {
          promptPresent = true;
          completionPrompt = prompt(value, parser);
        }
        case "messages" -> {
          int start = JsonBodies.start(parser);
          messageCount = value == JsonToken.START_ARRAY ? count(parser) : -1;
          messages = JsonBodies.raw(parser, body, start);
        }
        case "items" -> {
          int start = JsonBodies.start(parser);
          itemCount = value == JsonToken.START_ARRAY ? count(parser) : -1;
          items = JsonBodies.raw(parser, body, start);
        }
        case "input" -> input = JsonBodies.raw(parser, body, JsonBodies.start(parser));
        case "instructions" -> instructions = JsonBodies.raw(parser, body, JsonBodies.start(parser));
        case "tools" -> tools = JsonBodies.raw(parser, body, JsonBodies.start(parser));
        default -> parser.skipChildren();
      }
    }

    String prompt(Api api) {
      switch (api) {
        case CHAT_COMPLETIONS -> {
          if (messageCount <= 0) {
            throw JsonBodies.badRequest("invalid chat completions request: 'messages' must be a non-empty array");
          }
          return messages;
        }
        case CONVERSATIONS -> {
          if (itemCount <= 0) {
            throw JsonBodies.badRequest("invalid conversations request: 'items' must be a non-empty array");
          }
          return items;
        }
        case RESPONSES -> {
          if (input == null) {
            throw JsonBodies.badRequest("invalid responses request: 'input' is required");
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
            throw JsonBodies.badRequest("invalid embeddings request: 'input' is required");
          }
          return input;
        }
        default -> {
          if (!promptPresent || completionPrompt == null || completionPrompt.isEmpty()) {
            throw JsonBodies.badRequest("invalid completions request: 'prompt' must be a non-empty string or array of strings");
          }
          return completionPrompt;
        }
      }
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
