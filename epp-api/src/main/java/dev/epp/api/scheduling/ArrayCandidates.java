package dev.epp.api.scheduling;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import java.util.Objects;

/** Candidates over two parallel arrays that the caller no longer modifies. */
final class ArrayCandidates implements Candidates {

  private final Endpoint[] endpoints;
  private final EndpointMetrics[] metrics;

  ArrayCandidates(Endpoint[] endpoints, EndpointMetrics[] metrics) {
    for (int i = 0; i < endpoints.length; i++) {
      Objects.requireNonNull(endpoints[i], "endpoint");
      Objects.requireNonNull(metrics[i], "metrics");
    }
    this.endpoints = endpoints;
    this.metrics = metrics;
  }

  @Override
  public int size() {
    return endpoints.length;
  }

  @Override
  public Endpoint endpoint(int i) {
    return endpoints[i];
  }

  @Override
  public EndpointMetrics metrics(int i) {
    return metrics[i];
  }

  @Override
  public int position(int i) {
    Objects.checkIndex(i, endpoints.length);
    return i;
  }
}
