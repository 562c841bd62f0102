package dev.epp.api.requestcontrol;

import dev.epp.api.Plugin;
import dev.epp.api.scheduling.Candidates;

/**
 * Measures how loaded a pool is, so sheddable requests (priority below 0) can be rejected with 429 before they queue
 * on an overloaded pool.
 *
 * <p><b>Threading:</b> called concurrently for different requests; must be thread-safe, non-blocking and free of I/O.
 */
public interface SaturationDetector extends Plugin {

  /**
   * The pool's saturation: 0 is idle, 1.0 or more is saturated. An empty candidate list is saturated.
   *
   * @param candidates the request's candidate endpoints
   */
  double saturation(Candidates candidates);
}
