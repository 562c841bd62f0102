package dev.epp.scheduler.plugins.parser;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.epp.api.requestcontrol.Usage;
import java.io.IOException;

/**
 * Reads token usage from one JSON response document in a single streaming pass, skipping everything but the fields
 * it needs: {@code usage} at the top level, or {@code response.usage} in a Responses API {@code response.completed}
 * event. Counts are {@code prompt_tokens}/{@code completion_tokens}, or {@code input_tokens}/{@code output_tokens}
 * for the Responses and Conversations APIs (or when only those are present); cached tokens come from
 * {@code prompt_tokens_details}, {@code input_tokens_details} or the misspelt {@code prompt_token_details}, in that
 * order. A document without {@code "usage"} is rejected before it is parsed.
 *
 * <p><b>Threading:</b> stateless; thread-safe.
 */
final class UsageReader {

  private static final byte[] USAGE_KEY = {'"', 'u', 's', 'a', 'g', 'e', '"'};

  private final JsonFactory json;

  UsageReader(JsonFactory json) {
    this.json = json;
  }

  /** The usage in {@code length} bytes of {@code document} from {@code offset}, or {@code null} if none or invalid. */
  Usage read(byte[] document, int offset, int length) {
    if (!JsonBodies.contains(document, offset, length, USAGE_KEY)) {
      return null;
    }
    try (JsonParser parser = json.createParser(document, offset, length)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        return null;
      }
      String object = "";
      String type = "";
      Counts usage = null;
      Counts responseUsage = null;
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String name = parser.currentName();
        JsonToken value = parser.nextToken();
        switch (name) {
          case "object" -> object = value == JsonToken.VALUE_STRING ? parser.getText() : "";
          case "type" -> type = value == JsonToken.VALUE_STRING ? parser.getText() : "";
          case "usage" -> usage = counts(parser);
          case "response" -> responseUsage = nestedUsage(parser);
          default -> parser.skipChildren();
        }
      }
      Counts counts = type.equals("response.completed") ? responseUsage : usage;
      return counts == null ? null : counts.usage(object);
    } catch (IOException e) {
      return null; // "[DONE]", a partial event or a non-JSON body: no usage
    }
  }

  /** The {@code usage} object inside the current object value, skipping the rest of it. */
  private static Counts nestedUsage(JsonParser parser) throws IOException {
    if (parser.currentToken() != JsonToken.START_OBJECT) {
      parser.skipChildren();
      return null;
    }
    Counts usage = null;
    while (parser.nextToken() == JsonToken.FIELD_NAME) {
      String name = parser.currentName();
      parser.nextToken();
      if (name.equals("usage")) {
        usage = counts(parser);
      } else {
        parser.skipChildren();
      }
    }
    return usage;
  }

  /** The counts of the current value if it is an object; {@code null} (and the value skipped) otherwise. */
  private static Counts counts(JsonParser parser) throws IOException {
    if (parser.currentToken() != JsonToken.START_OBJECT) {
      parser.skipChildren();
      return null;
    }
    Counts counts = new Counts();
    while (parser.nextToken() == JsonToken.FIELD_NAME) {
      String name = parser.currentName();
      parser.nextToken();
      switch (name) {
        case "prompt_tokens" -> {
          counts.hasPromptTokens = true;
          counts.promptTokens = parser.getValueAsLong(0);
        }
        case "completion_tokens" -> counts.completionTokens = parser.getValueAsLong(0);
        case "input_tokens" -> {
          counts.hasInputTokens = true;
          counts.inputTokens = parser.getValueAsLong(0);
        }
        case "output_tokens" -> counts.outputTokens = parser.getValueAsLong(0);
        case "total_tokens" -> {
          counts.hasTotalTokens = true;
          counts.totalTokens = parser.getValueAsLong(0);
        }
        case "prompt_tokens_details" -> counts.promptDetails = cachedTokens(parser);
        case "input_tokens_details" -> counts.inputDetails = cachedTokens(parser);
        case "prompt_token_details" -> counts.misspeltDetails = cachedTokens(parser);
        default -> parser.skipChildren();
      }
    }
    return counts;
  }

  /** {@code cached_tokens} of the current value: 0 if absent or not an object. */
  private static Long cachedTokens(JsonParser parser) throws IOException {
    long cached = 0;
    if (parser.currentToken() != JsonToken.START_OBJECT) {
      parser.skipChildren();
      return cached;
    }
    while (parser.nextToken() == JsonToken.FIELD_NAME) {
      String name = parser.currentName();
      parser.nextToken();
      if (name.equals("cached_tokens")) {
        cached = parser.getValueAsLong(0);
      } else {
        parser.skipChildren();
      }
    }
    return cached;
  }

  /** The fields of one {@code usage} object as sent. */
  private static final class Counts {
    boolean hasPromptTokens;
    boolean hasInputTokens;
    boolean hasTotalTokens;
    long promptTokens;
    long completionTokens;
    long inputTokens;
    long outputTokens;
    long totalTokens;
    Long promptDetails;
    Long inputDetails;
    Long misspeltDetails;

    Usage usage(String object) {
      boolean inputOutput = object.startsWith("response") || object.startsWith("conversation")
          || (!hasPromptTokens && hasInputTokens);
      long prompt = inputOutput ? inputTokens : promptTokens;
      long completion = inputOutput ? outputTokens : completionTokens;
      long total = hasTotalTokens ? totalTokens : prompt + completion;
      Long details = promptDetails != null ? promptDetails : inputDetails != null ? inputDetails : misspeltDetails;
      long cached = details == null ? 0 : details;
      return new Usage(Math.max(0, prompt), Math.max(0, completion), Math.max(0, total), Math.max(0, cached));
    }
  }
}
