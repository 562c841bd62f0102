package dev.epp.api.scheduling;

import dev.epp.api.Endpoint;
import java.util.List;

/**
 * What one scheduling profile chose.
 *
 * @param targets the picked endpoints, primary first then fallbacks; empty when the profile found no endpoint
 */
public record ProfileResult(List<Endpoint> targets) {

  private static final ProfileResult NONE = new ProfileResult(List.of());

  /** Copies the targets. */
  public ProfileResult {
    targets = List.copyOf(targets);
  }

  /** The result of a profile that found no endpoint. */
  public static ProfileResult none() {
    return NONE;
  }

  /** Whether the profile found no endpoint. */
  public boolean isEmpty() {
    return targets.isEmpty();
  }
}
