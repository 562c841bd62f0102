package dev.epp.scheduler.plugins.flowcontrol;

import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.TypedName;
import dev.epp.api.flowcontrol.OrderingPolicy;
import dev.epp.api.flowcontrol.QueuedRequest;

/**
 * Earliest SLO deadline first: the deadline is the time the request was received plus its {@code x-llm-d-slo-ttft-ms}
 * header (computed by the caller into {@link QueuedRequest#deadlineNanos()}); requests without one come after every
 * request with one; ties go to the request received first. No parameters.
 */
public final class SloDeadlineOrdering implements OrderingPolicy {

  /** The plugin type. */
  public static final String TYPE = "slo-deadline-ordering-policy";

  private final TypedName typedName;

  /** A policy named {@code name}. */
  public SloDeadlineOrdering(String name) {
    this.typedName = new TypedName(TYPE, name);
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public int compare(QueuedRequest a, QueuedRequest b) {
    int byDeadline = Long.compare(a.deadlineNanos(), b.deadlineNanos());
    return byDeadline != 0 ? byDeadline : Long.compare(a.receivedNanos(), b.receivedNanos());
  }

  /** Creates {@link SloDeadlineOrdering}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public SloDeadlineOrdering create(PluginSpec spec, PluginHandle handle) {
      return new SloDeadlineOrdering(spec.name());
    }
  }
}
