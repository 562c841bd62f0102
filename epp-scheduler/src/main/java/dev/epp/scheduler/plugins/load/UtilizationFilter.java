package dev.epp.scheduler.plugins.load;

import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.TypedName;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.Filter;
import java.util.BitSet;
import java.util.List;

/**
 * Drops candidates over a utilization cap: llm-d's {@code utilization-filter}. A candidate is kept only when every
 * condition holds, {@code value(metric) <= maxValue}; a candidate never scraped counts as 0 for scraped metrics.
 *
 * <p>Parameters (llm-d names and defaults):
 *
 * <ul>
 *   <li>{@code conditions} (required, at least one): objects with {@code metric}, one of {@code active-requests}
 *       (requests in flight counted by the {@link InFlightLoadProducer}), {@code running-requests},
 *       {@code waiting-queue} or {@code kv-cache-utilization} (a fraction), and {@code maxValue} (required, at least
 *       0; at most 1 for {@code kv-cache-utilization}).
 *   <li>{@code fallbackOnEmpty} (boolean, default false): keep every candidate when all would be dropped.
 *   <li>{@code inFlightLoadProducerName} (string, default {@code inflight-load-producer}): the producer to read, needed
 *       when a condition uses {@code active-requests}.
 * </ul>
 */
public final class UtilizationFilter implements Filter {

  /** The plugin type. */
  public static final String TYPE = "utilization-filter";

  private static final String CONDITIONS = "conditions";
  private static final String METRIC = "metric";
  private static final String MAX_VALUE = "maxValue";

  /** The metrics a condition can cap. */
  private enum Metric {
    ACTIVE_REQUESTS("active-requests"),
    RUNNING_REQUESTS("running-requests"),
    WAITING_QUEUE("waiting-queue"),
    KV_CACHE_UTILIZATION("kv-cache-utilization");

    private final String configName;

    Metric(String configName) {
      this.configName = configName;
    }

    static Metric parse(Parameters condition) {
      String name = condition.getString(METRIC, null);
      if (name == null) {
        throw condition.invalid(METRIC, "is required: one of active-requests, running-requests, waiting-queue, "
            + "kv-cache-utilization");
      }
      for (Metric metric : values()) {
        if (metric.configName.equals(name)) {
          return metric;
        }
      }
      throw condition.invalid(METRIC, "must be one of active-requests, running-requests, waiting-queue, "
          + "kv-cache-utilization, got \"" + name + "\"");
    }
  }

  private final TypedName typedName;
  private final Metric[] metrics;
  private final double[] maxValues;
  private final boolean fallbackOnEmpty;
  private final InFlightLoad load;

  private UtilizationFilter(String name, Metric[] metrics, double[] maxValues, boolean fallbackOnEmpty,
      InFlightLoad load) {
    this.typedName = new TypedName(TYPE, name);
    this.metrics = metrics;
    this.maxValues = maxValues;
    this.fallbackOnEmpty = fallbackOnEmpty;
    this.load = load;
  }

  /**
   * A filter named {@code name}; {@code handle} provides the in-flight load producer when a condition needs it.
   *
   * @throws PluginConfigException if a parameter is invalid or the producer is missing
   */
  public static UtilizationFilter create(String name, Parameters parameters, PluginHandle handle) {
    List<Parameters> conditions = parameters.getParametersList(CONDITIONS);
    if (conditions.isEmpty()) {
      throw parameters.invalid(CONDITIONS, "must list at least one condition");
    }
    Metric[] metrics = new Metric[conditions.size()];
    double[] maxValues = new double[conditions.size()];
    boolean readsLoad = false;
    for (int i = 0; i < metrics.length; i++) {
      Parameters condition = conditions.get(i);
      metrics[i] = Metric.parse(condition);
      if (!condition.contains(MAX_VALUE)) {
        throw condition.invalid(MAX_VALUE, "is required");
      }
      maxValues[i] = condition.getDouble(MAX_VALUE, 0);
      if (maxValues[i] < 0) {
        throw condition.invalid(MAX_VALUE, "must be at least 0, got " + maxValues[i]);
      }
      if (metrics[i] == Metric.KV_CACHE_UTILIZATION && maxValues[i] > 1) {
        throw condition.invalid(MAX_VALUE, "is a fraction for kv-cache-utilization and must be at most 1, got "
            + maxValues[i]);
      }
      readsLoad |= metrics[i] == Metric.ACTIVE_REQUESTS;
    }
    boolean fallbackOnEmpty = parameters.getBoolean("fallbackOnEmpty", false);
    InFlightLoad load = null;
    if (readsLoad) {
      load = InFlightLoad.find(parameters, handle);
    } else {
      parameters.getString(InFlightLoad.PRODUCER_NAME, null);
    }
    return new UtilizationFilter(name, metrics, maxValues, fallbackOnEmpty, load);
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public void filter(RequestContext context, Candidates candidates, BitSet keep) {
    int n = candidates.size();
    boolean anyKept = false;
    for (int i = 0; i < n; i++) {
      if (withinCaps(candidates, i)) {
        anyKept = true;
      } else {
        keep.clear(i);
      }
    }
    if (!anyKept && fallbackOnEmpty) {
      keep.set(0, n);
    }
  }

  private boolean withinCaps(Candidates candidates, int i) {
    for (int c = 0; c < metrics.length; c++) {
      double value = switch (metrics[c]) {
        case ACTIVE_REQUESTS -> load.requests(candidates.endpoint(i));
        case RUNNING_REQUESTS -> candidates.metrics(i).runningRequests();
        case WAITING_QUEUE -> candidates.metrics(i).waitingQueueSize();
        case KV_CACHE_UTILIZATION -> candidates.metrics(i).kvCacheUsage();
      };
      if (value > maxValues[c]) {
        return false;
      }
    }
    return true;
  }

  /** Creates {@link UtilizationFilter}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public UtilizationFilter create(PluginSpec spec, PluginHandle handle) {
      return UtilizationFilter.create(spec.name(), spec.parameters(), handle);
    }

    /** Alpha in llm-d: needs {@code --allow-experimental-plugins}. */
    @Override
    public boolean experimental() {
      return true;
    }
  }
}
