package dev.epp.api.requestcontrol;

import dev.epp.api.Endpoint;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The model server's response as response hooks see it.
 *
 * <p><b>Threading:</b> confined to one request, like {@link dev.epp.api.RequestContext}.
 */
public final class InferenceResponse {

  private final Endpoint target;
  private final Map<String, String> headers;
  private final Map<String, Map<String, Object>> dynamicMetadata = new LinkedHashMap<>();
  private boolean endOfStream;
  private Usage usage = Usage.none();

  /**
   * A response from {@code target}.
   *
   * @param headers the response headers with lower-case names; copied
   */
  public InferenceResponse(Endpoint target, Map<String, String> headers) {
    this.target = Objects.requireNonNull(target, "target");
    this.headers = new LinkedHashMap<>(headers);
  }

  /** The endpoint serving the response. */
  public Endpoint target() {
    return target;
  }

  /** The response headers, lower-case names; response-header hooks may add entries, which reach the client. */
  public Map<String, String> headers() {
    return headers;
  }

  /**
   * Metadata to return to the gateway with the last response chunk, by namespace (e.g. {@code envoy.lb}); hooks may
   * add entries.
   */
  public Map<String, Map<String, Object>> dynamicMetadata() {
    return dynamicMetadata;
  }

  /** Whether this is the last call for this response. */
  public boolean endOfStream() {
    return endOfStream;
  }

  /** Marks whether the current chunk is the last one; set by the framework. */
  public void endOfStream(boolean value) {
    this.endOfStream = value;
  }

  /** The usage parsed so far, or {@link Usage#none()}. */
  public Usage usage() {
    return usage;
  }

  /** Records the usage parsed from the response; set by the framework. */
  public void usage(Usage value) {
    this.usage = Objects.requireNonNull(value, "value");
  }
}
