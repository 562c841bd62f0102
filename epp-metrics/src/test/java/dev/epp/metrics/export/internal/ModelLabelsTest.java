package dev.epp.metrics.export.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;

class ModelLabelsTest {

  private final ModelLabels labels = new ModelLabels();

  @Test
  void pairsPastTheLimitAreOtherAndKeptPairsStayKept() {
    for (int i = 0; i < ModelLabels.MAX_PAIRS; i++) {
      assertEquals(new ModelLabels.Pair("m" + i, "t"), labels.pair("m" + i, "t"));
    }
    assertEquals(new ModelLabels.Pair("other", "other"), labels.pair("m-new", "t"));
    assertEquals(new ModelLabels.Pair("other", "other"), labels.pair("m0", "t-new"));
    assertEquals("other", labels.model("m0"), "(m0, m0) is a new pair");
    assertEquals(new ModelLabels.Pair("m7", "t"), labels.pair("m7", "t"));
  }

  @Test
  void longValuesAreCutWithoutSplittingACharacter() {
    String longName = "a".repeat(ModelLabels.MAX_LENGTH + 10);
    assertEquals("a".repeat(ModelLabels.MAX_LENGTH), labels.model(longName));
    assertEquals("a".repeat(ModelLabels.MAX_LENGTH), labels.model(longName + "b"), "same cut value, same pair");

    String emoji = "\uD83D\uDE00"; // one character, two chars
    String straddling = "b".repeat(ModelLabels.MAX_LENGTH - 1) + emoji;
    assertEquals("b".repeat(ModelLabels.MAX_LENGTH - 1), labels.target(straddling));
  }

  @Test
  void aKnownPairIsLookedUpWithoutAllocating() {
    com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    String model = new String("meta-llama/Llama-3.1-8B-Instruct");
    String target = new String("meta-llama/Llama-3.1-8B-Instruct");
    ModelLabels.Pair pair = labels.pair(model, target);
    long id = Thread.currentThread().getId();
    int calls = 100_000;

    long before = threads.getThreadAllocatedBytes(id);
    for (int i = 0; i < calls; i++) {
      assertSame(pair, labels.pair(model, target));
      assertSame(pair.model(), labels.model(model));
    }
    long allocated = threads.getThreadAllocatedBytes(id) - before;
    assertTrue(allocated < calls, allocated + " bytes for " + calls + " lookups: an allocation each would be more");
  }
}
