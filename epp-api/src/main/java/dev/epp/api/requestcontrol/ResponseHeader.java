package dev.epp.api.requestcontrol;

import dev.epp.api.Plugin;
import dev.epp.api.RequestContext;

/**
 * Called when the model server's response headers arrive. Plugins may add headers through
 * {@link InferenceResponse#headers()}. A plugin that throws is logged and skipped.
 *
 * <p><b>Threading:</b> called concurrently for different requests; must be thread-safe and non-blocking.
 */
public interface ResponseHeader extends Plugin {

  /** Called once per response. */
  void responseHeaders(RequestContext context, InferenceResponse response);
}
