package dev.epp.scheduler.plugins.flowcontrol;

import dev.epp.api.Parameters;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.TypedName;
import dev.epp.api.flowcontrol.UsageLimitPolicy;
import java.util.Arrays;

/**
 * The same ceiling for every band: bands dispatch while the pool's saturation is below {@code threshold}.
 *
 * <p>Parameters: {@code threshold} (number, default 1.0, at least 0): 1.0 dispatches until the pool is saturated,
 * lower values keep headroom free.
 */
public final class StaticUsageLimit implements UsageLimitPolicy {

  /** The plugin type. */
  public static final String TYPE = "static-usage-limit-policy";

  private static final String THRESHOLD = "threshold";

  private final TypedName typedName;
  private final double threshold;

  /**
   * A policy named {@code name} configured by {@code parameters}.
   *
   * @throws dev.epp.api.PluginConfigException if {@code threshold} is negative or not a number
   */
  public StaticUsageLimit(String name, Parameters parameters) {
    this.typedName = new TypedName(TYPE, name);
    double value = parameters.getDouble(THRESHOLD, 1.0);
    if (!(value >= 0) || Double.isInfinite(value)) {
      throw parameters.invalid(THRESHOLD, "must be a finite number of at least 0, got " + value);
    }
    this.threshold = value;
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public void computeLimits(double saturation, int[] priorities, double[] ceilings) {
    Arrays.fill(ceilings, threshold);
  }

  /** Creates {@link StaticUsageLimit}s configured by the spec's parameters. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public StaticUsageLimit create(PluginSpec spec, PluginHandle handle) {
      return new StaticUsageLimit(spec.name(), spec.parameters());
    }
  }
}
