package dev.epp.scheduler.plugins.picker;

import static dev.epp.scheduler.plugins.picker.Picking.maxNumOfEndpoints;
import static dev.epp.scheduler.plugins.picker.Picking.pick;
import static dev.epp.scheduler.plugins.picker.Picking.primaryCounts;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.Parameters;
import dev.epp.api.PluginFactory;
import dev.epp.testkit.PickerContract;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class WeightedRandomPickerTest implements PickerContract<WeightedRandomPicker> {

  @Override
  public WeightedRandomPicker newPicker() {
    return new WeightedRandomPicker("weighted", Parameters.empty(), new Random(7));
  }

  @Override
  public PluginFactory factory() {
    return new WeightedRandomPicker.Factory();
  }

  @Override
  public Parameters validParameters() {
    return maxNumOfEndpoints(2);
  }

  @Test
  void picksInProportionToScore() {
    int[] counts = primaryCounts(newPicker(), 4000, 1.0, 3.0);
    // Expected 3000 of 4000 with a standard deviation of about 27.
    assertTrue(counts[1] > 2700 && counts[1] < 3300, () -> Arrays.toString(counts));
  }

  @Test
  void neverPicksZeroScoresWhileAPositiveOneExists() {
    int[] counts = primaryCounts(newPicker(), 2000, 0.0, 0.5, -1.0, 0.001);
    assertEquals(0, counts[0] + counts[2], Arrays.toString(counts));
    assertTrue(counts[3] > 0, () -> "the small positive score should win sometimes: " + Arrays.toString(counts));
  }

  @Test
  void tinyPositiveScoreStillBeatsZero() {
    for (int r = 0; r < 200; r++) {
      assertEquals(1, pick(newPicker(), 0.0, 1e-300, 0.0)[0]);
    }
  }

  @Test
  void picksPositiveScoresBeforeZeroScores() {
    WeightedRandomPicker picker = new WeightedRandomPicker("weighted", maxNumOfEndpoints(2), new Random(7));
    for (int r = 0; r < 500; r++) {
      int[] picked = pick(picker, 0.5, 0.0, 0.5, 0.0);
      Arrays.sort(picked);
      assertEquals("[0, 2]", Arrays.toString(picked));
    }
    int[] fallbacks = new int[3];
    for (int r = 0; r < 1000; r++) {
      int[] picked = pick(picker, 0.0, 0.7, 0.0);
      assertEquals(1, picked[0]);
      fallbacks[picked[1]]++;
    }
    assertTrue(fallbacks[0] > 350 && fallbacks[2] > 350, () -> "random fallback: " + Arrays.toString(fallbacks));
  }

  @Test
  void picksUniformlyWhenNoScoreIsPositive() {
    int[] counts = primaryCounts(newPicker(), 3000, 0.0, 0.0, -0.5);
    for (int count : counts) {
      assertTrue(count > 800, () -> "each candidate expected ~1000 times: " + Arrays.toString(counts));
    }
  }

  @Test
  void picksProportionallyWithSeveralEndpoints() {
    // A grown per-thread key buffer must not leak keys between requests of different sizes.
    WeightedRandomPicker picker = new WeightedRandomPicker("weighted", maxNumOfEndpoints(3), new Random(7));
    double[] many = new double[200];
    many[150] = 1.0;
    assertEquals(150, pick(picker, many)[0]);
    int[] firsts = new int[4];
    for (int r = 0; r < 4000; r++) {
      firsts[pick(picker, 1.0, 0.0, 3.0, 0.0)[0]]++;
    }
    assertEquals(0, firsts[1] + firsts[3], Arrays.toString(firsts));
    assertTrue(firsts[2] > 2700 && firsts[2] < 3300, () -> Arrays.toString(firsts));
  }
}
