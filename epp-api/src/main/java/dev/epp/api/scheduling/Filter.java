package dev.epp.api.scheduling;

import dev.epp.api.Plugin;
import dev.epp.api.RequestContext;
import java.util.BitSet;

/**
 * Removes candidates that must not serve a request.
 *
 * <p><b>Contract:</b> on entry bits {@code 0..candidates.size()-1} of {@code keep} are set; the filter clears the bit
 * of every candidate it rejects. Setting bits has no effect, so a filter can only ever narrow the set. If every bit is
 * cleared, the profile stops and fails. A filter that throws is logged and keeps every candidate.
 *
 * <p><b>Threading:</b> called concurrently for different requests; must be thread-safe, non-blocking and free of I/O.
 */
public interface Filter extends Plugin {

  /**
   * Clears the bits of rejected candidates.
   *
   * @param context the request being scheduled
   * @param candidates the candidates that survived earlier filters
   * @param keep one bit per candidate, all set on entry
   */
  void filter(RequestContext context, Candidates candidates, BitSet keep);
}
