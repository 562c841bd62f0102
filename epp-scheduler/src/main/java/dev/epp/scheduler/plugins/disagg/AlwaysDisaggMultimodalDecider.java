package dev.epp.scheduler.plugins.disagg;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.epp.api.Endpoint;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestBody;
import dev.epp.api.RequestContext;
import dev.epp.api.TypedName;
import java.io.IOException;
import java.util.Set;

/**
 * Approves encode disaggregation for chat completions requests with multimodal content: a message content part of
 * type {@code image_url}, {@code video_url} or {@code input_audio}. Text-only requests and other APIs are not
 * disaggregated. No parameters.
 */
public final class AlwaysDisaggMultimodalDecider implements Decider {

  /** The plugin type. */
  public static final String TYPE = "always-disagg-multimodal-decider";

  private static final Set<String> MULTIMODAL_PARTS = Set.of("image_url", "video_url", "input_audio");
  private static final JsonFactory JSON = new JsonFactory();

  private final TypedName typedName;

  /** A decider named {@code name}. */
  public AlwaysDisaggMultimodalDecider(String name) {
    this.typedName = new TypedName(TYPE, name);
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public boolean disaggregate(RequestContext context, Endpoint decode) {
    RequestBody body = context.request().body();
    return body.api() == RequestBody.Api.CHAT_COMPLETIONS && hasMultimodalPart(body.prompt());
  }

  /** Whether the chat {@code messages} JSON has an object whose {@code type} names a multimodal content part. */
  static boolean hasMultimodalPart(String messages) {
    if (!messages.contains("image_url") && !messages.contains("video_url") && !messages.contains("input_audio")) {
      return false;
    }
    try (JsonParser parser = JSON.createParser(messages)) {
      for (JsonToken token = parser.nextToken(); token != null; token = parser.nextToken()) {
        if (token == JsonToken.FIELD_NAME && parser.currentName().equals("type")
            && parser.nextToken() == JsonToken.VALUE_STRING && MULTIMODAL_PARTS.contains(parser.getText())) {
          return true;
        }
      }
    } catch (IOException e) {
      return false;
    }
    return false;
  }

  /** Creates {@link AlwaysDisaggMultimodalDecider}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public AlwaysDisaggMultimodalDecider create(PluginSpec spec, PluginHandle handle) {
      return new AlwaysDisaggMultimodalDecider(spec.name());
    }
  }
}
