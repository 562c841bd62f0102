package dev.epp.api.requestcontrol;

import dev.epp.api.Plugin;
import dev.epp.api.RequestContext;

/**
 * Called for every streamed response chunk, or once for a buffered response; the last call has
 * {@link InferenceResponse#endOfStream()} set. If the response never completes (client disconnect, error) the
 * framework still makes one final call with end of stream set. A plugin that throws is logged and skipped.
 *
 * <p><b>Threading:</b> called concurrently for different requests; must be thread-safe and non-blocking.
 */
public interface ResponseBody extends Plugin {

  /** Called per chunk. */
  void responseBody(RequestContext context, InferenceResponse response);
}
