package dev.epp.scheduler.plugins.picker;

import static dev.epp.scheduler.plugins.picker.Picking.maxNumOfEndpoints;
import static dev.epp.scheduler.plugins.picker.Picking.pick;
import static dev.epp.scheduler.plugins.picker.Picking.primaryCounts;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.testkit.PickerContract;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class MaxScorePickerTest implements PickerContract<MaxScorePicker> {

  @Override
  public MaxScorePicker newPicker() {
    return new MaxScorePicker("max", Parameters.empty(), new Random(7));
  }

  @Override
  public PluginFactory factory() {
    return new MaxScorePicker.Factory();
  }

  @Override
  public Parameters validParameters() {
    return maxNumOfEndpoints(3);
  }

  @Test
  void picksTheHighestScore() {
    for (int r = 0; r < 100; r++) {
      assertArrayEquals(new int[] {1}, pick(newPicker(), 0.2, 0.9, 0.5));
    }
  }

  @Test
  void breaksTiesUniformlyAtRandom() {
    int[] counts = primaryCounts(newPicker(), 3000, 2.0, 0.3, 2.0, 0.1, 2.0);
    assertEquals(0, counts[1] + counts[3], Arrays.toString(counts));
    for (int tied : new int[] {0, 2, 4}) {
      assertTrue(counts[tied] > 800, () -> "each of three ties expected ~1000 times: " + Arrays.toString(counts));
    }
  }

  @Test
  void returnsTheTopScoresInDescendingOrder() {
    MaxScorePicker picker = new MaxScorePicker("max", maxNumOfEndpoints(3), new Random(7));
    assertArrayEquals(new int[] {1, 3, 2}, pick(picker, 0.1, 0.9, 0.5, 0.7, 0.3));
  }

  @Test
  void returnsAllCandidatesWhenAskedForMore() {
    assertArrayEquals(new int[] {2, 0, 1}, pick(new MaxScorePicker("max", maxNumOfEndpoints(10), new Random(7)), 0.5, 0.1, 0.9));
  }

  @Test
  void ordersTiesRandomlyWhenPickingSeveral() {
    MaxScorePicker picker = new MaxScorePicker("max", maxNumOfEndpoints(2), new Random(7));
    int[] firsts = new int[4];
    for (int r = 0; r < 2000; r++) {
      int[] picked = pick(picker, 1.0, 1.0, 0.5, 1.0);
      assertEquals(2, picked.length);
      assertTrue(picked[0] != 2 && picked[1] != 2, () -> "picked the lower score: " + Arrays.toString(picked));
      firsts[picked[0]]++;
    }
    for (int tied : new int[] {0, 1, 3}) {
      assertTrue(firsts[tied] > 450, () -> "each tie expected first ~667 times: " + Arrays.toString(firsts));
    }
  }

  @Test
  void nonPositiveMaxNumOfEndpointsMeansOne() {
    assertEquals(1, pick(new MaxScorePicker("max", maxNumOfEndpoints(0), new Random(7)), 0.1, 0.2, 0.3).length);
    assertEquals(1, pick(new MaxScorePicker("max", maxNumOfEndpoints(-4), new Random(7)), 0.1, 0.2, 0.3).length);
  }

  @Test
  void rejectsNonIntegerMaxNumOfEndpoints() {
    PluginConfigException e =
        assertThrows(
            PluginConfigException.class,
            () -> new MaxScorePicker("max", Parameters.of(Map.of("maxNumOfEndpoints", "two")), new Random(7)));
    assertEquals("maxNumOfEndpoints", e.parameter());
  }
}
