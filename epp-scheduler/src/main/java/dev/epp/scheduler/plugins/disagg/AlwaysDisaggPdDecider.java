package dev.epp.scheduler.plugins.disagg;

import dev.epp.api.Endpoint;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.TypedName;

/** Approves prefill/decode disaggregation for every request. No parameters. */
public final class AlwaysDisaggPdDecider implements Decider {

  /** The plugin type. */
  public static final String TYPE = "always-disagg-pd-decider";

  private final TypedName typedName;

  /** A decider named {@code name}. */
  public AlwaysDisaggPdDecider(String name) {
    this.typedName = new TypedName(TYPE, name);
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  /** Always true. */
  @Override
  public boolean disaggregate(RequestContext context, Endpoint decode) {
    return true;
  }

  /** Creates {@link AlwaysDisaggPdDecider}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public AlwaysDisaggPdDecider create(PluginSpec spec, PluginHandle handle) {
      return new AlwaysDisaggPdDecider(spec.name());
    }
  }
}
