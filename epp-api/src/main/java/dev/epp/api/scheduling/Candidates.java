package dev.epp.api.scheduling;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import java.util.List;

/**
 * The endpoints a plugin works on, indexed {@code 0..size()-1}, each with the metrics snapshot taken for this
 * request (consistent for the whole request, however often the scraper updates).
 *
 * <p><b>Threading:</b> immutable for the duration of a plugin call. A view passed to a plugin is only valid during
 * that call; the framework reuses it.
 */
public interface Candidates {

  /** How many candidates there are. */
  int size();

  /** The endpoint at index {@code i}. */
  Endpoint endpoint(int i);

  /** The metrics snapshot of the endpoint at index {@code i}. */
  EndpointMetrics metrics(int i);

  /**
   * The position of candidate {@code i} in the request's full candidate list, which does not change as filters
   * remove candidates. Use it to index per-request data computed before filtering (for example by a data producer).
   */
  int position(int i);

  /** Candidates over the given endpoints and metrics, in that order; positions are the indexes. */
  static Candidates of(List<Endpoint> endpoints, List<EndpointMetrics> metrics) {
    if (endpoints.size() != metrics.size()) {
      throw new IllegalArgumentException(
          endpoints.size() + " endpoints but " + metrics.size() + " metrics snapshots");
    }
    return new ArrayCandidates(
        endpoints.toArray(new Endpoint[0]), metrics.toArray(new EndpointMetrics[0]));
  }

  /** Candidates over the given endpoints, none of which has been scraped. */
  static Candidates of(List<Endpoint> endpoints) {
    return of(endpoints, java.util.Collections.nCopies(endpoints.size(), EndpointMetrics.none()));
  }
}
