package dev.epp.api.scheduling;

import dev.epp.api.Plugin;
import dev.epp.api.RequestContext;
import java.util.List;
import java.util.Map;

/**
 * Decides which scheduling profiles run for a request and how their results combine, e.g. one profile for simple
 * routing, or a prefill and a decode profile for disaggregated serving. Exactly one profile handler exists per
 * configuration.
 *
 * <p><b>Threading:</b> called concurrently for different requests; must be thread-safe, non-blocking and free of I/O.
 */
public interface ProfileHandler extends Plugin {

  /**
   * Chooses the profiles to run next. The scheduler calls this repeatedly, running the returned profiles in order
   * and adding their results, until it returns an empty list.
   *
   * @param context the request being scheduled
   * @param profiles the names of all configured profiles, in configuration order
   * @param results the results of the profiles run so far, by name, unmodifiable and in the order they ran; a
   *     profile that found no endpoint maps to {@link ProfileResult#none()}
   * @return names of profiles to run next, or an empty list to stop
   */
  List<String> pickProfiles(RequestContext context, List<String> profiles, Map<String, ProfileResult> results);

  /**
   * Combines the profiles' results into the scheduling result.
   *
   * @param results the result of every profile that ran, by name, unmodifiable and in the order they ran
   * @throws dev.epp.api.InferenceException if the results cannot route the request
   */
  SchedulingResult processResults(RequestContext context, Map<String, ProfileResult> results);
}
