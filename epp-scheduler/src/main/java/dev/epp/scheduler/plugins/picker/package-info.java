/**
 * Pickers: choose the target endpoints (the primary, then fallbacks) from the scored candidates. Types
 * {@code max-score-picker}, {@code random-picker} and {@code weighted-random-picker}, all taking
 * {@code maxNumOfEndpoints}.
 *
 * <p>Pickers allocate nothing per call.
 */
package dev.epp.scheduler.plugins.picker;
