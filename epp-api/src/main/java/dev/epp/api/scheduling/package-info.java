/**
 * Scheduling extension points: {@link dev.epp.api.scheduling.Filter}, {@link dev.epp.api.scheduling.Scorer},
 * {@link dev.epp.api.scheduling.Picker} and {@link dev.epp.api.scheduling.ProfileHandler}, run over a
 * {@link dev.epp.api.scheduling.Candidates} view.
 *
 * <p>A scheduling profile runs its filters in order, sums the clamped, weighted scores of its scorers into one score
 * per candidate, and lets its picker choose the target endpoints. Plugins write into arrays the framework owns, so the
 * request path allocates nothing per candidate.
 */
package dev.epp.api.scheduling;
