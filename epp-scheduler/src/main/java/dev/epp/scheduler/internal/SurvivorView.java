package dev.epp.scheduler.internal;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.scheduling.Candidates;
import java.util.Objects;

/**
 * A reusable view of the candidates that survived filtering: index {@code i} maps to {@code base} index
 * {@code index[i]}. Re-pointed for every profile run; never escapes a plugin call.
 */
final class SurvivorView implements Candidates {

  private Candidates base;
  private int[] index;
  private int size;

  void reset(Candidates base, int[] index, int size) {
    this.base = base;
    this.index = index;
    this.size = size;
  }

  void resize(int size) {
    this.size = size;
  }

  /** The base index of survivor {@code i}. */
  int baseIndex(int i) {
    return index[Objects.checkIndex(i, size)];
  }

  @Override
  public int size() {
    return size;
  }

  @Override
  public Endpoint endpoint(int i) {
    return base.endpoint(baseIndex(i));
  }

  @Override
  public EndpointMetrics metrics(int i) {
    return base.metrics(baseIndex(i));
  }

  @Override
  public int position(int i) {
    return base.position(baseIndex(i));
  }
}
