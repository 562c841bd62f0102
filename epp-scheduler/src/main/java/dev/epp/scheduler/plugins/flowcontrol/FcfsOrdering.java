package dev.epp.scheduler.plugins.flowcontrol;

import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.TypedName;
import dev.epp.api.flowcontrol.OrderingPolicy;
import dev.epp.api.flowcontrol.QueuedRequest;

/** First come, first served: the request that entered the queue first goes first. No parameters. */
public final class FcfsOrdering implements OrderingPolicy {

  /** The plugin type. */
  public static final String TYPE = "fcfs-ordering-policy";

  private final TypedName typedName;

  /** A policy named {@code name}. */
  public FcfsOrdering(String name) {
    this.typedName = new TypedName(TYPE, name);
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public int compare(QueuedRequest a, QueuedRequest b) {
    return Long.compare(a.enqueueNanos(), b.enqueueNanos());
  }

  /** Creates {@link FcfsOrdering}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public FcfsOrdering create(PluginSpec spec, PluginHandle handle) {
      return new FcfsOrdering(spec.name());
    }
  }
}
