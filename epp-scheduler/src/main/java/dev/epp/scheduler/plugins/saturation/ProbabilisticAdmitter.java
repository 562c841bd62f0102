package dev.epp.scheduler.plugins.saturation;

import dev.epp.api.EndpointMetrics;
import dev.epp.api.InferenceException;
import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.TypedName;
import dev.epp.api.requestcontrol.Admission;
import dev.epp.api.scheduling.Candidates;
import java.util.Locale;
import java.util.random.RandomGenerator;

/**
 * Sheds sheddable requests (priority below 0) with a probability that rises steeply with pool saturation: llm-d's
 * {@code probabilistic-admitter}. Requests with priority 0 or more, and requests with no candidates, are admitted.
 *
 * <p>{@code saturation} is the mean over candidates of
 * {@code max(waitingQueueSize / queueDepthThreshold, kvCacheUsage / kvCacheUtilThreshold)}, a candidate never scraped
 * counting 1.0; the request is rejected with probability {@code min(saturation^power × k, 1)} with
 * {@code ResourceExhausted} (HTTP 429) and the message
 * {@code probabilistic-admitter: rejected, saturation=0.300 prob=0.73}.
 *
 * <p>Parameters (llm-d names and defaults, each greater than 0): {@code queueDepthThreshold} (integer, 5),
 * {@code kvCacheUtilThreshold} (0.8), {@code power} (5.0), {@code k} (300.0).
 *
 * <p>Random draws come from {@link PluginHandle#random()}.
 */
public final class ProbabilisticAdmitter implements Admission {

  /** The plugin type. */
  public static final String TYPE = "probabilistic-admitter";

  private final TypedName typedName;
  private final double queueDepthThreshold;
  private final double kvCacheUtilThreshold;
  private final double power;
  private final double k;
  private final RandomGenerator random;

  /**
   * An admitter named {@code name} drawing from {@code random}.
   *
   * @throws PluginConfigException if a parameter is invalid
   */
  public ProbabilisticAdmitter(String name, Parameters parameters, RandomGenerator random) {
    this.typedName = new TypedName(TYPE, name);
    this.queueDepthThreshold = positive(parameters, "queueDepthThreshold", parameters.getInt("queueDepthThreshold", 5));
    this.kvCacheUtilThreshold =
        positive(parameters, "kvCacheUtilThreshold", parameters.getDouble("kvCacheUtilThreshold", 0.8));
    this.power = positive(parameters, "power", parameters.getDouble("power", 5.0));
    this.k = positive(parameters, "k", parameters.getDouble("k", 300.0));
    this.random = random;
  }

  private static double positive(Parameters parameters, String key, double value) {
    if (!(value > 0)) {
      throw parameters.invalid(key, "must be greater than 0, got " + value);
    }
    return value;
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public void admit(RequestContext context, Candidates candidates) {
    if (!context.request().isSheddable() || candidates.size() == 0) {
      return;
    }
    double saturation = saturation(candidates);
    double probability = Math.min(Math.pow(saturation, power) * k, 1.0);
    if (random.nextDouble() < probability) {
      throw new InferenceException(InferenceException.Code.RESOURCE_EXHAUSTED, String.format(Locale.ROOT,
          "probabilistic-admitter: rejected, saturation=%.3f prob=%.2f", saturation, probability));
    }
  }

  /** The mean over candidates of each one's largest load ratio; 1.0 for a candidate never scraped. */
  double saturation(Candidates candidates) {
    int n = candidates.size();
    double total = 0;
    for (int i = 0; i < n; i++) {
      EndpointMetrics metrics = candidates.metrics(i);
      total += metrics.updatedNanos() == EndpointMetrics.NEVER
          ? 1.0
          : Math.max(metrics.waitingQueueSize() / queueDepthThreshold, metrics.kvCacheUsage() / kvCacheUtilThreshold);
    }
    return total / n;
  }

  /** Creates {@link ProbabilisticAdmitter}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public ProbabilisticAdmitter create(PluginSpec spec, PluginHandle handle) {
      return new ProbabilisticAdmitter(spec.name(), spec.parameters(), handle.random());
    }
  }
}
