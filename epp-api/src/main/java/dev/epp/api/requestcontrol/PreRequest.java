package dev.epp.api.requestcontrol;

import dev.epp.api.Plugin;
import dev.epp.api.RequestContext;
import dev.epp.api.scheduling.SchedulingResult;

/**
 * Observes the scheduling decision before the request is sent to its endpoint (for example to record which
 * endpoint will now hold a prompt prefix), and may add headers to the forwarded request with {@link UpstreamHeaders}. A
 * plugin that throws is logged and skipped.
 *
 * <p><b>Threading:</b> called concurrently for different requests; must be thread-safe and non-blocking.
 */
public interface PreRequest extends Plugin {

  /** Called once per scheduled request. */
  void preRequest(RequestContext context, SchedulingResult result);
}
