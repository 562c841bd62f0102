package dev.epp.scheduler.plugins.load;

import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.TypedName;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.Scorer;

/**
 * Prefers candidates with few requests in flight: llm-d's {@code active-request-scorer}. With {@code r} a
 * candidate's in-flight requests and {@code max} the most over the candidates: 1.0 if {@code r <= idleThreshold},
 * else {@code (max - r) / max × maxBusyScore}.
 *
 * <p>Parameters (llm-d names and defaults):
 *
 * <ul>
 *   <li>{@code idleThreshold} (integer, default 0): at most this many requests counts as idle; at least 0.
 *   <li>{@code maxBusyScore} (number, default 1.0): the best score of a busy candidate; in [0, 1].
 *   <li>{@code inFlightLoadProducerName} (string, default {@code inflight-load-producer}): the
 *       {@link InFlightLoadProducer} to read.
 * </ul>
 *
 * <p>Out-of-range values are rejected (llm-d falls back to the default).
 */
public final class ActiveRequestScorer implements Scorer {

  /** The plugin type. */
  public static final String TYPE = "active-request-scorer";

  private static final String IDLE_THRESHOLD = "idleThreshold";
  private static final String MAX_BUSY_SCORE = "maxBusyScore";

  private final TypedName typedName;
  private final InFlightLoad load;
  private final long idleThreshold;
  private final double maxBusyScore;

  /**
   * A scorer named {@code name} reading {@code load}.
   *
   * @throws PluginConfigException if a parameter is invalid
   */
  public ActiveRequestScorer(String name, Parameters parameters, InFlightLoad load) {
    this.typedName = new TypedName(TYPE, name);
    this.load = load;
    this.idleThreshold = parameters.getInt(IDLE_THRESHOLD, 0);
    if (idleThreshold < 0) {
      throw parameters.invalid(IDLE_THRESHOLD, "must be at least 0, got " + idleThreshold);
    }
    this.maxBusyScore = parameters.getDouble(MAX_BUSY_SCORE, 1.0);
    if (maxBusyScore < 0 || maxBusyScore > 1) {
      throw parameters.invalid(MAX_BUSY_SCORE, "must be in [0, 1], got " + maxBusyScore);
    }
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public void score(RequestContext context, Candidates candidates, double[] scores) {
    int n = candidates.size();
    long max = 0;
    for (int i = 0; i < n; i++) {
      long requests = load.requests(candidates.endpoint(i));
      scores[i] = requests;
      max = Math.max(max, requests);
    }
    for (int i = 0; i < n; i++) {
      double requests = scores[i];
      scores[i] = requests <= idleThreshold ? 1.0 : (max - requests) / max * maxBusyScore;
    }
  }

  /** Creates {@link ActiveRequestScorer}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public ActiveRequestScorer create(PluginSpec spec, PluginHandle handle) {
      Parameters parameters = spec.parameters();
      return new ActiveRequestScorer(spec.name(), parameters, InFlightLoad.find(parameters, handle));
    }
  }
}
