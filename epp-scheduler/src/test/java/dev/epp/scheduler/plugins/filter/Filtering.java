package dev.epp.scheduler.plugins.filter;

import dev.epp.api.RequestContext;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.Filter;
import java.util.BitSet;

/** Runs filters for the filter tests (and the saturation detector's, which is a filter too). */
public final class Filtering {

  private Filtering() {}

  /** The indexes {@code filter} keeps, rendered like {@code {0, 2}}. */
  public static String kept(Filter filter, RequestContext context, Candidates candidates) {
    BitSet keep = new BitSet();
    keep.set(0, candidates.size());
    filter.filter(context, candidates, keep);
    return keep.toString();
  }
}
