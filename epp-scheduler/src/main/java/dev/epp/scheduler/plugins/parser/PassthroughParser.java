package dev.epp.scheduler.plugins.parser;

import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestBody;
import dev.epp.api.TypedName;
import dev.epp.api.requestcontrol.ParsedRequest;
import dev.epp.api.requestcontrol.RequestParser;
import dev.epp.api.requestcontrol.Usage;
import java.util.Map;

/**
 * Treats bodies as opaque bytes: no model is extracted (so no model rewrite and no prefix affinity), the body is
 * forwarded unchanged and responses report no usage, as the Go EPP's {@code passthrough-parser}. No parameters.
 */
public final class PassthroughParser implements RequestParser {

  /** The plugin type. */
  public static final String TYPE = "passthrough-parser";

  private static final ParsedRequest OPAQUE = new ParsedRequest("", RequestBody.opaque());

  private final TypedName typedName;

  /** A parser named {@code name}. */
  public PassthroughParser(String name) {
    this.typedName = new TypedName(TYPE, name);
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public ParsedRequest parseRequest(byte[] body, Map<String, String> headers) {
    return OPAQUE;
  }

  @Override
  public byte[] withModel(byte[] body, String model) {
    return body;
  }

  @Override
  public Usage parseResponse(byte[] chunk, boolean eventStream) {
    return null;
  }

  /** Creates {@link PassthroughParser}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public PassthroughParser create(PluginSpec spec, PluginHandle handle) {
      return new PassthroughParser(spec.name());
    }
  }
}
