package dev.epp.api.requestcontrol;

import dev.epp.api.Plugin;
import dev.epp.api.RequestContext;
import dev.epp.api.scheduling.Candidates;

/**
 * Computes per-request data before scheduling (for example prefix-cache matches) and stores it in the
 * {@link RequestContext} for scorers and later hooks, indexed by {@link Candidates#position(int)}.
 *
 * <p>A plugin that throws is logged and skipped; scheduling goes on without its data.
 *
 * <p><b>Threading:</b> called concurrently for different requests; must be thread-safe and non-blocking.
 */
public interface PrepareData extends Plugin {

  /**
   * Prepares data for one request.
   *
   * @param candidates every candidate endpoint of the request, before filtering
   */
  void prepareData(RequestContext context, Candidates candidates);
}
