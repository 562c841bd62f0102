package dev.epp.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.Picker;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The {@link Picker} contract as reusable tests: implement {@link #newPicker()} (and {@link #factory()} and
 * {@link #validParameters()} to check the factory too). Checks that a picker returns between 1 and
 * {@code candidates.size()} distinct, in-range indexes for any scores, honours {@code maxNumOfEndpoints} when
 * {@link #validParameters()} sets it, leaves its inputs alone, and is safe to call concurrently.
 *
 * @param <P> the picker type
 */
public interface PickerContract<P extends Picker> extends PluginContract {

  /** A new picker to test. */
  P newPicker();

  @Test
  default void picksDistinctCandidatesInRange() {
    P picker = newPicker();
    for (Candidates candidates : Fixtures.candidateSets()) {
      for (double[] scores : scorePatterns(candidates.size())) {
        pickAndCheck(picker, candidates, scores);
      }
    }
  }

  @Test
  default void picksTheOnlyCandidate() {
    P picker = newPicker();
    int[] picked = pickAndCheck(picker, Fixtures.unscraped(1), new double[] {0.5});
    assertEquals(0, picked[0]);
  }

  @Test
  default void honoursMaxNumOfEndpoints() {
    assumeTrue(factory() != null && validParameters().asMap().containsKey("maxNumOfEndpoints"),
        "no factory, or validParameters() does not set maxNumOfEndpoints");
    int max = Math.max(1, validParameters().getInt("maxNumOfEndpoints", 1));
    Picker picker = (Picker) createThroughFactory("my-picker", validParameters());
    List<Candidates> sets = Fixtures.candidateSets();
    for (Candidates candidates : sets) {
      for (double[] scores : scorePatterns(candidates.size())) {
        int[] picked = pickAndCheck(picker, candidates, scores);
        assertEquals(Math.min(max, candidates.size()), picked.length, "picked " + Arrays.toString(picked));
      }
    }
  }

  @Test
  default void leavesInputsUnchanged() {
    Candidates candidates = Fixtures.skewed();
    List<Object> before = ContractSupport.snapshot(candidates);
    for (double[] scores : scorePatterns(candidates.size())) {
      double[] copy = scores.clone();
      pickAndCheck(newPicker(), candidates, scores);
      assertTrue(Arrays.equals(copy, scores), "scores changed");
    }
    assertEquals(before, ContractSupport.snapshot(candidates), "candidates changed");
  }

  @Test
  default void isSafeToCallConcurrently() throws Exception {
    P picker = newPicker();
    Candidates candidates = Fixtures.skewed();
    double[] scores = {0.5, 1.5, 0.0, 1.5, 2.0, 0.25};
    ContractSupport.hammer(() -> pickAndCheck(picker, candidates, scores));
  }

  /**
   * Total scores a picker may see for {@code n} candidates: all zero, all equal, strictly decreasing, strictly
   * increasing, a single positive one, and ties at the top. Totals are weighted sums, so they may exceed 1.
   */
  private static List<double[]> scorePatterns(int n) {
    List<double[]> patterns = new ArrayList<>();
    patterns.add(new double[n]);
    double[] equal = new double[n];
    Arrays.fill(equal, 1.0);
    patterns.add(equal);
    double[] decreasing = new double[n];
    double[] increasing = new double[n];
    double[] onePositive = new double[n];
    double[] topTies = new double[n];
    for (int i = 0; i < n; i++) {
      decreasing[i] = 3.0 - i * 0.5;
      increasing[i] = i * 0.25;
      topTies[i] = i % 2 == 0 ? 2.0 : 0.5;
    }
    onePositive[n - 1] = 0.1;
    patterns.add(decreasing);
    patterns.add(increasing);
    patterns.add(onePositive);
    patterns.add(topTies);
    return patterns;
  }

  /**
   * Picks from {@code candidates} and asserts the result holds between 1 and {@code candidates.size()} distinct
   * in-range indexes; returns the indexes picked.
   */
  private int[] pickAndCheck(Picker picker, Candidates candidates, double[] scores) {
    int n = candidates.size();
    int[] picked = new int[n];
    int count = picker.pick(newContext(), candidates, scores, picked);
    assertTrue(count >= 1 && count <= n, () -> "picked " + count + " of " + n);
    boolean[] seen = new boolean[n];
    for (int i = 0; i < count; i++) {
      int index = picked[i];
      assertTrue(index >= 0 && index < n, () -> "picked index " + index + " of " + n);
      assertTrue(!seen[index], () -> "picked index " + index + " twice");
      seen[index] = true;
    }
    return Arrays.copyOf(picked, count);
  }
}
