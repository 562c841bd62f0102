package dev.epp.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.epp.api.RequestContext;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.Filter;
import java.util.BitSet;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The {@link Filter} contract as reusable tests: implement {@link #newFilter()} (and {@link #factory()},
 * {@link #validParameters()} and {@link #newContext()} as needed). Checks that a filter only clears bits of
 * candidates, copes with empty, single and never-scraped candidates without throwing, leaves its inputs alone, and
 * is safe to call concurrently.
 *
 * @param <F> the filter type
 */
public interface FilterContract<F extends Filter> extends PluginContract {

  /** A new filter to test. */
  F newFilter();

  @Test
  default void onlyClearsBitsOfCandidates() {
    F filter = newFilter();
    for (Candidates candidates : Fixtures.candidateSets()) {
      filterAndCheck(filter, newContext(), candidates);
    }
  }

  @Test
  default void acceptsEmptyCandidates() {
    filterAndCheck(newFilter(), newContext(), Fixtures.candidates());
  }

  @Test
  default void acceptsSingleCandidate() {
    filterAndCheck(newFilter(), newContext(), Fixtures.candidates(Fixtures.metrics(5, 0.5, Fixtures.ADAPTER)));
  }

  @Test
  default void acceptsNeverScrapedCandidates() {
    filterAndCheck(newFilter(), newContext(), Fixtures.unscraped(1));
    filterAndCheck(newFilter(), newContext(), Fixtures.unscraped(5));
  }

  @Test
  default void leavesInputsUnchanged() {
    Candidates candidates = Fixtures.skewed();
    RequestContext context = newContext();
    var request = context.request();
    List<Object> before = ContractSupport.snapshot(candidates);
    filterAndCheck(newFilter(), context, candidates);
    assertEquals(before, ContractSupport.snapshot(candidates), "candidates changed");
    assertEquals(request, context.request());
  }

  @Test
  default void isSafeToCallConcurrently() throws Exception {
    F filter = newFilter();
    Candidates candidates = Fixtures.skewed();
    ContractSupport.hammer(() -> filterAndCheck(filter, newContext(), candidates));
  }

  /**
   * Filters with bits {@code 0..n-1} set plus a marker bit at {@code n + 1}, asserting that no bit was set and the
   * marker survived.
   */
  private void filterAndCheck(F filter, RequestContext context, Candidates candidates) {
    int n = candidates.size();
    BitSet keep = new BitSet();
    keep.set(0, n);
    keep.set(n + 1);
    filter.filter(context, candidates, keep);
    assertEquals(n + 1, keep.nextSetBit(n), "changed a bit beyond the candidates");
    assertEquals(-1, keep.nextSetBit(n + 2), "set a bit beyond the candidates");
  }
}
