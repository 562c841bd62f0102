package dev.epp.api.scheduling;

import dev.epp.api.Plugin;
import dev.epp.api.RequestContext;

/**
 * Chooses the target endpoints from scored candidates: the primary first, then fallbacks the gateway may try when the
 * primary refuses the connection.
 *
 * <p><b>Contract:</b> writes distinct candidate indexes into {@code picked} and returns how many it wrote (at least 1
 * when there are candidates). An out-of-range or repeated index is a plugin error: the framework logs it, as it does
 * an exception, and falls back to the candidate with the highest total score.
 *
 * <p><b>Threading:</b> called concurrently for different requests; must be thread-safe, non-blocking and free of I/O.
 */
public interface Picker extends Plugin {

  /**
   * Picks target endpoints.
   *
   * @param context the request being scheduled
   * @param candidates the candidates that survived the profile's filters (at least one)
   * @param scores the weighted total score of each candidate, indexed like {@code candidates}; read-only
   * @param picked at least {@code candidates.size()} long; receives the chosen indexes, primary first
   * @return the number of indexes written
   */
  int pick(RequestContext context, Candidates candidates, double[] scores, int[] picked);
}
