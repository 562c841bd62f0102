package dev.epp.scheduler;

import dev.epp.api.scheduling.Filter;
import dev.epp.api.scheduling.Picker;
import dev.epp.api.scheduling.Scorer;
import java.util.List;
import java.util.Objects;

/**
 * One scheduling profile of a loaded configuration: filters in order, weighted scorers and one picker.
 *
 * @param name the profile name, unique within the configuration
 * @param filters run in order; each sees the survivors of the previous ones
 * @param scorers their clamped scores, multiplied by their weights, are summed per candidate
 * @param picker chooses the targets from the summed scores
 */
public record SchedulingProfile(String name, List<Filter> filters, List<WeightedScorer> scorers, Picker picker) {

  /** Validates and copies the components. */
  public SchedulingProfile {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(picker, "picker");
    filters = List.copyOf(filters);
    scorers = List.copyOf(scorers);
  }

  /**
   * A scorer and its weight in a profile.
   *
   * @param scorer the scorer
   * @param weight its weight, finite and not negative
   */
  public record WeightedScorer(Scorer scorer, double weight) {

    /** Validates the weight. */
    public WeightedScorer {
      Objects.requireNonNull(scorer, "scorer");
      if (!(weight >= 0) || Double.isInfinite(weight)) {
        throw new IllegalArgumentException("scorer weight " + weight + " must be finite and not negative");
      }
    }
  }
}
