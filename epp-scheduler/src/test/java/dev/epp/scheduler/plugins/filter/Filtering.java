package dev.epp.scheduler.plugins;

import dev.epp.api.RequestContext;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.Filter;
import java.util.BitSet;

/** Runs filters for the filter tests. */
final class Filtering {

  private Filtering() {}

  /** The indexes {@code filter} keeps, rendered like {@code {0, 2}}. */
  static String kept(Filter filter, RequestContext context, Candidates candidates) {
    BitSet keep = new BitSet();
    keep.set(0, candidates.size());
    filter.filter(context, candidates, keep);
    return keep.toString();
  }
}
