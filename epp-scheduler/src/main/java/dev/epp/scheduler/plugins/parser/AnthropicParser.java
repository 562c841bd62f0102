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
 * Parses the Anthropic Messages API as llm-d's {@code anthropic-parser}: request paths ending in {@code /messages};
 * {@code /messages/count_tokens} is forwarded unparsed (no model, no prefix affinity, no usage); any other path fails
 * with {@code BAD_REQUEST} ({@code unsupported API endpoint: <path>}). The path is read as {@link OpenAiParser} reads
 * it.
 *
 * <p>Requests are read in one bounded streaming pass that builds no tree (the limits and error wording of
 * {@link OpenAiParser}): {@code model}, {@code stream}, {@code cache_salt}, {@code system}, {@code messages} (a
 * non-empty array of {@code {role, content}}, content a string or an array of content blocks) and {@code tools}. The
 * {@link RequestBody#prompt()} used for prefix affinity is the text the model sees, in its order: each tool's
 * {@code name}, {@code description} and {@code input_schema} JSON; the system text (its text blocks, without the
 * per-request {@code x-anthropic-billing-header} block agentic clients send); then each message's role and, per block,
 * {@code text}, {@code thinking}, a {@code tool_use}'s id, name and input JSON, a {@code tool_result}'s text (text
 * blocks joined by newlines), or an {@code image}'s source data or URL. Other fields, such as {@code cache_control},
 * are left out, so moving cache breakpoints keeps the prefix. Fields of the wrong JSON type fail with
 * {@code BAD_REQUEST} naming the field (e.g. {@code 'messages[1].content[0].text' must be a string}).
 *
 * <p>Response usage: a JSON body's {@code usage} ({@code input_tokens}, {@code output_tokens},
 * {@code cache_read_input_tokens}), or in a server-sent-event chunk the {@code message_start} event's
 * {@code message.usage} (input and cached tokens) and the {@code message_delta} event's {@code usage.output_tokens};
 * the total is input plus output. No parameters.
 */
public final class AnthropicParser implements RequestParser {

  /** The plugin type. */
  public static final String TYPE = "anthropic-parser";

  /** The system text block prefix that differs per request and is left out of the prompt. */
  static final String BILLING_HEADER_PREFIX = "x-anthropic-billing-header";

  private static final ParsedRequest COUNT_TOKENS = new ParsedRequest("", RequestBody.opaque());
  private static final byte[] USAGE_KEY = {'"', 'u', 's', 'a', 'g', 'e', '"'};

  private static final List<String> PATHS = List.of("messages", "messages/count_tokens");

  private final TypedName typedName;

  /** A parser named {@code name}. */
  public AnthropicParser(String name) {
    this.typedName = new TypedName(TYPE, name);
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  /** {@code messages} and {@code messages/count_tokens}. */
  @Override
  public List<String> paths() {
    return PATHS;
  }

  @Override
  public ParsedRequest parseRequest(byte[] body, Map<String, String> headers) {
    String path = JsonBodies.path(headers);
    if (path.endsWith("/messages/count_tokens")) {
      return COUNT_TOKENS;
    }
    if (!path.endsWith("/messages")) {
      throw JsonBodies.badRequest("unsupported API endpoint: " + path);
    }
    RequestFields fields = new RequestFields(body);
    JsonBodies.readObject(body, fields::read);
    if (fields.messageCount <= 0) {
      throw JsonBodies.badRequest("invalid messages request: 'messages' must be a non-empty array of messages");
    }
    String prompt = new StringBuilder(fields.tools.length() + fields.system.length() + fields.messages.length())
        .append(fields.tools).append(fields.system).append(fields.messages).toString();
    return new ParsedRequest(fields.model, new RequestBody(Api.MESSAGES, fields.stream, fields.cacheSalt, prompt));
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
    UsageTotals totals = new UsageTotals();
    if (!eventStream) {
      readUsage(chunk, 0, chunk.length, totals, false);
      return totals.usage();
    }
    int lineStart = 0;
    while (lineStart < chunk.length) {
      int lineEnd = lineStart;
      while (lineEnd < chunk.length && chunk[lineEnd] != '\n') {
        lineEnd++;
      }
      int start = JsonBodies.dataStart(chunk, lineStart, lineEnd);
      if (start >= 0 && JsonBodies.contains(chunk, start, lineEnd - start, USAGE_KEY)) {
        readUsage(chunk, start, lineEnd - start, totals, true);
      }
      lineStart = lineEnd + 1;
    }
    return totals.usage();
  }

  /** Adds the usage of one JSON document (a response body, or one event's data) to {@code totals}. */
  private static void readUsage(byte[] document, int offset, int length, UsageTotals totals, boolean event) {
    try (JsonParser parser = JsonBodies.JSON.createParser(document, offset, length)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        return;
      }
      String type = "";
      UsageFields usage = null;
      UsageFields messageUsage = null;
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String name = parser.currentName();
        JsonToken value = parser.nextToken();
        switch (name) {
          case "type" -> type = value == JsonToken.VALUE_STRING ? parser.getText() : "";
          case "usage" -> usage = UsageFields.read(parser);
          case "message" -> messageUsage = messageUsage(parser);
          default -> parser.skipChildren();
        }
      }
      if (!event) {
        totals.input(usage);
        totals.output(usage);
      } else if (type.equals("message_start")) {
        totals.input(messageUsage);
      } else if (type.equals("message_delta")) {
        totals.output(usage);
      }
    } catch (IOException e) {
      // a partial event or a body that is not JSON: no usage
    }
  }

  /** The {@code usage} of the {@code message} object the parser is at, skipping the rest of it. */
  private static UsageFields messageUsage(JsonParser parser) throws IOException {
    if (parser.currentToken() != JsonToken.START_OBJECT) {
      parser.skipChildren();
      return null;
    }
    UsageFields usage = null;
    while (parser.nextToken() == JsonToken.FIELD_NAME) {
      String name = parser.currentName();
      parser.nextToken();
      if (name.equals("usage")) {
        usage = UsageFields.read(parser);
      } else {
        parser.skipChildren();
      }
    }
    return usage;
  }

  /** The counts of one {@code usage} object; -1 for a count it does not carry. */
  private static final class UsageFields {
    long input = -1;
    long output = -1;
    long cacheRead = -1;

    /** The fields of the object the parser is at; {@code null} (and the value skipped) if it is not an object. */
    static UsageFields read(JsonParser parser) throws IOException {
      if (parser.currentToken() != JsonToken.START_OBJECT) {
        parser.skipChildren();
        return null;
      }
      UsageFields fields = new UsageFields();
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String name = parser.currentName();
        JsonToken value = parser.nextToken();
        long count = value == JsonToken.VALUE_NUMBER_INT || value == JsonToken.VALUE_NUMBER_FLOAT
            ? Math.max(0, parser.getValueAsLong(0)) : -1;
        switch (name) {
          case "input_tokens" -> fields.input = count;
          case "output_tokens" -> fields.output = count;
          case "cache_read_input_tokens" -> fields.cacheRead = count;
          default -> parser.skipChildren();
        }
      }
      return fields;
    }
  }

  /** The usage gathered from one response chunk. */
  private static final class UsageTotals {
    boolean found;
    long input;
    long output;
    long cached;

    /** Takes the input and cached tokens of {@code usage}, if any. */
    void input(UsageFields usage) {
      if (usage != null) {
        found = true;
        input = usage.input >= 0 ? usage.input : input;
        cached = usage.cacheRead >= 0 ? usage.cacheRead : cached;
      }
    }

    /** Takes the output tokens of {@code usage}, if any. */
    void output(UsageFields usage) {
      if (usage != null) {
        found = true;
        output = usage.output >= 0 ? usage.output : output;
      }
    }

    Usage usage() {
      return found ? new Usage(input, output, input + output, cached) : null;
    }
  }

  /** The top-level fields one streaming pass collects, with the prompt text of each part. */
  private static final class RequestFields {
    final byte[] body;
    String model = "";
    boolean stream;
    String cacheSalt = "";
    int messageCount;
    final StringBuilder tools = new StringBuilder();
    final StringBuilder system = new StringBuilder();
    final StringBuilder messages = new StringBuilder();

    RequestFields(byte[] body) {
      this.body = body;
    }

    void read(String name, JsonToken value, JsonParser parser) throws IOException {
      switch (name) {
        case "model" -> model = JsonBodies.string(name, value, parser);
        case "stream" -> stream = JsonBodies.stream(value);
        case "cache_salt" -> cacheSalt = JsonBodies.string(name, value, parser);
        case "system" -> system(value, parser);
        case "messages" -> messages(value, parser);
        case "tools" -> tools(value, parser);
        default -> parser.skipChildren();
      }
    }

    private void system(JsonToken value, JsonParser parser) throws IOException {
      system.setLength(0);
      if (value == JsonToken.VALUE_STRING) {
        system.append(parser.getText());
      } else if (value == JsonToken.START_ARRAY) {
        for (int i = 0; parser.nextToken() != JsonToken.END_ARRAY; i++) {
          Block block = block(parser, "system[" + i + "]");
          if ("text".equals(block.type) && !block.text.startsWith(BILLING_HEADER_PREFIX)) {
            system.append(block.text);
          }
        }
      } else if (value != JsonToken.VALUE_NULL) {
        throw JsonBodies.badRequest("'system' must be a string or an array of content blocks");
      }
    }

    private void messages(JsonToken value, JsonParser parser) throws IOException {
      messages.setLength(0);
      messageCount = 0;
      if (value == JsonToken.VALUE_NULL) {
        return;
      }
      if (value != JsonToken.START_ARRAY) {
        throw JsonBodies.badRequest("invalid messages request: 'messages' must be a non-empty array of messages");
      }
      StringBuilder content = new StringBuilder();
      while (parser.nextToken() != JsonToken.END_ARRAY) {
        String where = "messages[" + messageCount++ + "]";
        if (parser.currentToken() != JsonToken.START_OBJECT) {
          throw JsonBodies.badRequest("'" + where + "' must be an object with 'role' and 'content'");
        }
        String role = "";
        content.setLength(0);
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
          String field = parser.currentName();
          JsonToken fieldValue = parser.nextToken();
          switch (field) {
            case "role" -> role = JsonBodies.string(where, "role", fieldValue, parser);
            case "content" -> {
              content.setLength(0);
              content(fieldValue, parser, where + ".content", content, "");
            }
            default -> parser.skipChildren();
          }
        }
        messages.append(role).append(content);
      }
    }

    private void tools(JsonToken value, JsonParser parser) throws IOException {
      tools.setLength(0);
      if (value == JsonToken.VALUE_NULL) {
        return;
      }
      if (value != JsonToken.START_ARRAY) {
        throw JsonBodies.badRequest("'tools' must be an array of tools");
      }
      for (int i = 0; parser.nextToken() != JsonToken.END_ARRAY; i++) {
        String where = "tools[" + i + "]";
        if (parser.currentToken() != JsonToken.START_OBJECT) {
          throw JsonBodies.badRequest("'" + where + "' must be an object");
        }
        String toolName = "";
        String description = "";
        String schema = "";
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
          String field = parser.currentName();
          JsonToken fieldValue = parser.nextToken();
          switch (field) {
            case "name" -> toolName = JsonBodies.string(where, "name", fieldValue, parser);
            case "description" -> description = JsonBodies.string(where, "description", fieldValue, parser);
            case "input_schema" -> schema = JsonBodies.raw(parser, body, JsonBodies.start(parser));
            default -> parser.skipChildren();
          }
        }
        tools.append(toolName).append(description).append(schema);
      }
    }

    /**
     * Appends the text of a content value (a string, or an array of blocks) to {@code out}, separating blocks' text
     * by {@code separator}.
     */
    private void content(JsonToken value, JsonParser parser, String where, StringBuilder out, String separator)
        throws IOException {
      if (value == JsonToken.VALUE_STRING) {
        out.append(parser.getText());
      } else if (value == JsonToken.START_ARRAY) {
        int start = out.length();
        for (int i = 0; parser.nextToken() != JsonToken.END_ARRAY; i++) {
          String text = block(parser, where + "[" + i + "]").promptText();
          if (!text.isEmpty()) {
            if (out.length() > start) {
              out.append(separator);
            }
            out.append(text);
          }
        }
      } else if (value != JsonToken.VALUE_NULL) {
        throw JsonBodies.badRequest("'" + where + "' must be a string or an array of content blocks");
      }
    }

    /** The content block object the parser is at. */
    private Block block(JsonParser parser, String where) throws IOException {
      if (parser.currentToken() != JsonToken.START_OBJECT) {
        throw JsonBodies.badRequest("'" + where + "' must be a content block object");
      }
      Block block = new Block();
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String field = parser.currentName();
        JsonToken value = parser.nextToken();
        switch (field) {
          case "type" -> block.type = JsonBodies.string(where, "type", value, parser);
          case "text" -> block.text = JsonBodies.string(where, "text", value, parser);
          case "thinking" -> block.thinking = JsonBodies.string(where, "thinking", value, parser);
          case "id" -> block.id = JsonBodies.string(where, "id", value, parser);
          case "name" -> block.name = JsonBodies.string(where, "name", value, parser);
          case "input" -> block.input = JsonBodies.raw(parser, body, JsonBodies.start(parser));
          case "source" -> block.source = source(value, parser, where + ".source");
          case "content" -> {
            StringBuilder result = new StringBuilder();
            content(value, parser, where + ".content", result, "\n");
            block.result = result.toString();
          }
          default -> parser.skipChildren();
        }
      }
      return block;
    }

    /** An image source's {@code data}, else its {@code url}. */
    private static String source(JsonToken value, JsonParser parser, String where) throws IOException {
      if (value == JsonToken.VALUE_NULL) {
        return "";
      }
      if (value != JsonToken.START_OBJECT) {
        throw JsonBodies.badRequest("'" + where + "' must be an object");
      }
      String data = "";
      String url = "";
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String field = parser.currentName();
        JsonToken fieldValue = parser.nextToken();
        switch (field) {
          case "data" -> data = JsonBodies.string(where, "data", fieldValue, parser);
          case "url" -> url = JsonBodies.string(where, "url", fieldValue, parser);
          default -> parser.skipChildren();
        }
      }
      return data.isEmpty() ? url : data;
    }
  }

  /** The fields of one content block the prompt uses. */
  private static final class Block {
    String type = "";
    String text = "";
    String thinking = "";
    String id = "";
    String name = "";
    String input = "";
    String source = "";
    String result = "";

    /** What the block adds to the prompt. */
    String promptText() {
      return switch (type) {
        case "text" -> text;
        case "thinking" -> thinking;
        case "tool_use" -> id + name + input;
        case "tool_result" -> result;
        case "image" -> source;
        default -> "";
      };
    }
  }

  /** Creates {@link AnthropicParser}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public AnthropicParser create(PluginSpec spec, PluginHandle handle) {
      return new AnthropicParser(spec.name());
    }
  }
}
