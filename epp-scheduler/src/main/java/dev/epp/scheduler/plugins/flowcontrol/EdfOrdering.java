package dev.epp.scheduler.plugins.flowcontrol;

import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.TypedName;
import dev.epp.api.flowcontrol.OrderingPolicy;
import dev.epp.api.flowcontrol.QueuedRequest;

/**
 * Earliest deadline first, the deadline being enqueue time plus the request's TTL; requests without a TTL come after
 * every request with one; ties go first come, first served. No parameters.
 */
public final class EdfOrdering implements OrderingPolicy {

  /** The plugin type. */
  public static final String TYPE = "edf-ordering-policy";

  private final TypedName typedName;

  /** A policy named {@code name}. */
  public EdfOrdering(String name) {
    this.typedName = new TypedName(TYPE, name);
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public int compare(QueuedRequest a, QueuedRequest b) {
    int byDeadline = Long.compare(deadline(a), deadline(b));
    return byDeadline != 0 ? byDeadline : Long.compare(a.enqueueNanos(), b.enqueueNanos());
  }

  private static long deadline(QueuedRequest request) {
    long ttl = request.ttlNanos();
    if (ttl <= 0) {
      return Long.MAX_VALUE;
    }
    long deadline = request.enqueueNanos() + ttl;
    return deadline < request.enqueueNanos() ? Long.MAX_VALUE : deadline;
  }

  /** Creates {@link EdfOrdering}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public EdfOrdering create(PluginSpec spec, PluginHandle handle) {
      return new EdfOrdering(spec.name());
    }
  }
}
