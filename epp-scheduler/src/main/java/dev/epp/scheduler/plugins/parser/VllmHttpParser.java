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
 * Parses vLLM's pre-tokenized generate API as llm-d's {@code vllmhttp-parser}: request paths ending in
 * {@code inference/v1/generate}; any other path fails with {@code BAD_REQUEST} ({@code unsupported path: <path>}).
 * The path is read as {@link OpenAiParser} reads it.
 *
 * <p>Requests are read in one bounded streaming pass (the limits and error wording of {@link OpenAiParser}):
 * {@code model}, {@code stream}, {@code cache_salt} and {@code token_ids}, which must be a non-empty array of token
 * ids (integers from 0 to {@value #MAX_TOKEN_ID}; an integral number such as {@code 7.0} counts). The
 * {@link RequestBody#prompt()} is the token ids themselves, four characters per token (the id's bytes, high byte
 * first), so prefix blocks of {@code blockSizeTokens} cover exactly that many tokens. Response usage is read as
 * {@link OpenAiParser} reads it. No parameters.
 */
public final class VllmHttpParser implements RequestParser {

  /** The plugin type. */
  public static final String TYPE = "vllmhttp-parser";

  /** The largest token id: an unsigned 32-bit integer. */
  public static final long MAX_TOKEN_ID = 0xFFFF_FFFFL;

  private static final String GENERATE_PATH_SUFFIX = "inference/v1/generate";
  private static final OpenAiParser RESPONSES = new OpenAiParser(OpenAiParser.TYPE);

  private static final List<String> PATHS = List.of(GENERATE_PATH_SUFFIX);

  private final TypedName typedName;

  /** A parser named {@code name}. */
  public VllmHttpParser(String name) {
    this.typedName = new TypedName(TYPE, name);
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  /** {@code inference/v1/generate}. */
  @Override
  public List<String> paths() {
    return PATHS;
  }

  @Override
  public ParsedRequest parseRequest(byte[] body, Map<String, String> headers) {
    String path = JsonBodies.path(headers);
    if (!path.endsWith(GENERATE_PATH_SUFFIX)) {
      throw JsonBodies.badRequest("unsupported path: " + path);
    }
    RequestFields fields = new RequestFields();
    JsonBodies.readObject(body, fields::read);
    if (fields.tokens == null || fields.tokens.length() == 0) {
      throw JsonBodies.badRequest("invalid generate request: must have non-empty token_ids field");
    }
    return new ParsedRequest(fields.model,
        new RequestBody(Api.GENERATE, fields.stream, fields.cacheSalt, fields.tokens.toString()));
  }

  @Override
  public byte[] withModel(byte[] body, String model) {
    return JsonBodies.withModel(body, model);
  }

  @Override
  public Usage parseResponse(byte[] chunk, boolean eventStream) {
    return RESPONSES.parseResponse(chunk, eventStream);
  }

  /** The top-level fields one streaming pass collects. */
  private static final class RequestFields {
    String model = "";
    boolean stream;
    String cacheSalt = "";
    StringBuilder tokens;

    void read(String name, JsonToken value, JsonParser parser) throws IOException {
      switch (name) {
        case "model" -> model = JsonBodies.string(name, value, parser);
        case "stream" -> stream = JsonBodies.stream(value);
        case "cache_salt" -> cacheSalt = JsonBodies.string(name, value, parser);
        case "token_ids" -> tokens = tokens(value, parser);
        default -> parser.skipChildren();
      }
    }

    /** The token ids of the array the parser is at, four characters each; {@code null} for {@code null}. */
    private static StringBuilder tokens(JsonToken value, JsonParser parser) throws IOException {
      if (value == JsonToken.VALUE_NULL) {
        return null;
      }
      if (value != JsonToken.START_ARRAY) {
        throw JsonBodies.badRequest("invalid generate request: 'token_ids' must be an array of token ids");
      }
      StringBuilder tokens = new StringBuilder();
      for (int i = 0; parser.nextToken() != JsonToken.END_ARRAY; i++) {
        long id = tokenId(parser);
        if (id < 0) {
          throw JsonBodies.badRequest(
              "invalid generate request: 'token_ids[" + i + "]' must be an integer from 0 to " + MAX_TOKEN_ID);
        }
        tokens.append((char) (id >>> 24)).append((char) ((id >>> 16) & 0xff))
            .append((char) ((id >>> 8) & 0xff)).append((char) (id & 0xff));
      }
      return tokens;
    }

    /** The token id the parser is at, or -1 if the value is not one. */
    private static long tokenId(JsonParser parser) throws IOException {
      JsonToken token = parser.currentToken();
      if (token == JsonToken.VALUE_NUMBER_INT) {
        if (parser.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
          return -1;
        }
        long id = parser.getLongValue();
        return id <= MAX_TOKEN_ID ? id : -1;
      }
      if (token == JsonToken.VALUE_NUMBER_FLOAT) {
        double id = parser.getDoubleValue();
        return id >= 0 && id <= MAX_TOKEN_ID && id == Math.rint(id) ? (long) id : -1;
      }
      return -1;
    }
  }

  /** Creates {@link VllmHttpParser}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public VllmHttpParser create(PluginSpec spec, PluginHandle handle) {
      return new VllmHttpParser(spec.name());
    }
  }
}
