package dev.epp.api.scheduling;

import dev.epp.api.Plugin;
import dev.epp.api.RequestContext;

/**
 * Scores candidates; a profile adds each scorer's scores, multiplied by the scorer's weight, into one total per
 * candidate.
 *
 * <p><b>Contract:</b> on entry {@code scores[0..candidates.size()-1]} are 0; the scorer writes a score in [0, 1] for
 * each candidate (higher is better). The framework clamps values outside [0, 1] and treats NaN as 0. A scorer that
 * throws is logged and contributes 0 to every candidate.
 *
 * <p><b>Threading:</b> called concurrently for different requests; must be thread-safe, non-blocking and free of I/O.
 */
public interface Scorer extends Plugin {

  /**
   * Writes one score per candidate.
   *
   * @param context the request being scheduled
   * @param candidates the candidates that survived the profile's filters
   * @param scores at least {@code candidates.size()} long; index {@code i} receives candidate {@code i}'s score
   */
  void score(RequestContext context, Candidates candidates, double[] scores);
}
