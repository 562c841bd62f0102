package dev.epp.api.flowcontrol;

import dev.epp.api.Plugin;

/**
 * Sets, once per dispatch cycle, the saturation ceiling of each active band: a band dispatches only while the pool's
 * saturation is below its ceiling, and the first band at or above its ceiling stops the cycle (no lower band
 * dispatches past it). 1.0 means dispatch until saturated, 0.0 never; values in between hold headroom back for higher
 * priorities. Ceilings should not increase from higher to lower priority.
 */
public interface UsageLimitPolicy extends Plugin {

  /**
   * Writes the ceiling of {@code priorities[i]} into {@code ceilings[i]}.
   *
   * @param saturation the pool's current saturation (1.0 or more is saturated)
   * @param priorities the active priorities, highest first; read-only, not to be retained
   * @param ceilings pre-filled with 1.0; same length as {@code priorities}; not to be retained
   */
  void computeLimits(double saturation, int[] priorities, double[] ceilings);
}
