package dev.epp.scheduler.plugins.disagg;

import dev.epp.api.Endpoint;
import dev.epp.api.Plugin;
import dev.epp.api.RequestContext;

/**
 * Decides per request whether a disaggregated stage (prefill or encode) runs; the {@code disagg-profile-handler}
 * names its deciders in {@code deciders.prefill} and {@code deciders.encode}.
 *
 * <p><b>Threading:</b> called concurrently for different requests; must be thread-safe, non-blocking and free of I/O.
 */
public interface Decider extends Plugin {

  /**
   * Whether the stage runs for the request.
   *
   * @param decode the endpoint the decode profile picked, or {@code null} when the stage runs before decode
   *     ({@code stageOrder: prefill-first})
   */
  boolean disaggregate(RequestContext context, Endpoint decode);
}
