package dev.epp.api.scheduling;

import dev.epp.api.Endpoint;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The outcome of scheduling one request: each profile's result and which profile's targets the gateway uses.
 *
 * @param primaryProfile the name of the profile whose targets route the request
 * @param profileResults the result of every profile that ran, by profile name; unmodifiable
 */
public record SchedulingResult(String primaryProfile, Map<String, ProfileResult> profileResults) {

  /** Validates that the primary profile has a non-empty result and copies the map. */
  public SchedulingResult {
    Objects.requireNonNull(primaryProfile, "primaryProfile");
    profileResults = Map.copyOf(profileResults);
    ProfileResult primary = profileResults.get(primaryProfile);
    if (primary == null || primary.isEmpty()) {
      throw new IllegalArgumentException("primary profile '" + primaryProfile + "' has no targets");
    }
  }

  /** The primary profile's result. */
  public ProfileResult primary() {
    return profileResults.get(primaryProfile);
  }

  /** The primary profile's targets: the endpoint to route to first, then fallbacks. Never empty. */
  public List<Endpoint> targets() {
    return primary().targets();
  }
}
