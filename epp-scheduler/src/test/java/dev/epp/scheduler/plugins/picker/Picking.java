package dev.epp.scheduler.plugins.picker;

import dev.epp.api.Parameters;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.Picker;
import dev.epp.testkit.Fixtures;
import java.util.Arrays;
import java.util.Map;

/** Runs pickers over never-scraped candidates with given total scores, for the picker tests. */
final class Picking {

  private Picking() {}

  /** Parameters setting {@code maxNumOfEndpoints}. */
  static Parameters maxNumOfEndpoints(int n) {
    return Parameters.of(Map.of("maxNumOfEndpoints", n));
  }

  /** The indexes {@code picker} picks from candidates with {@code scores}, primary first. */
  static int[] pick(Picker picker, double... scores) {
    Candidates candidates = Fixtures.unscraped(scores.length);
    int[] picked = new int[scores.length];
    int count = picker.pick(Fixtures.context(), candidates, scores, picked);
    return Arrays.copyOf(picked, count);
  }

  /** How often each candidate was picked as the primary in {@code runs} picks. */
  static int[] primaryCounts(Picker picker, int runs, double... scores) {
    int[] counts = new int[scores.length];
    for (int r = 0; r < runs; r++) {
      counts[pick(picker, scores)[0]]++;
    }
    return counts;
  }
}
