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

class RandomPickerTest implements PickerContract<RandomPicker> {

  @Override
  public RandomPicker newPicker() {
    return new RandomPicker("random", Parameters.empty(), new Random(7));
  }

  @Override
  public PluginFactory factory() {
    return new RandomPicker.Factory();
  }

  @Override
  public Parameters validParameters() {
    return maxNumOfEndpoints(2);
  }

  @Test
  void picksUniformlyIgnoringScores() {
    int[] counts = primaryCounts(newPicker(), 4000, 0.0, 5.0, 0.1, 1.0);
    for (int count : counts) {
      assertTrue(count > 800, () -> "each candidate expected ~1000 times: " + Arrays.toString(counts));
    }
  }

  @Test
  void picksSeveralDistinctCandidates() {
    RandomPicker picker = new RandomPicker("random", maxNumOfEndpoints(3), new Random(7));
    int[] seen = new int[5];
    for (int r = 0; r < 1000; r++) {
      int[] picked = pick(picker, 1, 1, 1, 1, 1);
      assertEquals(3, Arrays.stream(picked).distinct().count(), () -> Arrays.toString(picked));
      for (int index : picked) {
        seen[index]++;
      }
    }
    for (int count : seen) {
      assertTrue(count > 450, () -> "each candidate expected in ~600 picks: " + Arrays.toString(seen));
    }
  }

  @Test
  void returnsAllCandidatesWhenAskedForMore() {
    int[] picked = pick(new RandomPicker("random", maxNumOfEndpoints(9), new Random(7)), 0.3, 0.2);
    Arrays.sort(picked);
    assertEquals("[0, 1]", Arrays.toString(picked));
  }
}
