package dev.epp.scheduler.plugins.saturation;

import dev.epp.api.Endpoint;
import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.TypedName;
import dev.epp.api.requestcontrol.SaturationDetector;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.Filter;
import dev.epp.scheduler.plugins.load.InFlightLoad;
import dev.epp.scheduler.plugins.load.InFlightLoadProducer;
import java.util.BitSet;
import java.util.Locale;

/**
 * A saturation detector and filter judging load from the requests (or tokens) the EPP has in flight per endpoint,
 * as counted by an {@link InFlightLoadProducer}: llm-d's {@code concurrency-detector}. Reacts to bursts at once,
 * without waiting for scraped metrics.
 *
 * <p><b>Saturation:</b> 1.0 for no candidates. Mode {@code requests}: the candidates' in-flight requests over
 * {@code n × maxConcurrency}; {@code tokens}: their in-flight tokens over {@code n × maxTokenConcurrency};
 * {@code hybrid}: the mean over candidates of {@code max(requests / maxConcurrency, tokens / maxTokenConcurrency)}.
 *
 * <p><b>Filter:</b> keeps candidates below {@code limit = capacity × (1 + headroom)}, truncated to an integer: in
 * {@code requests} mode by requests, in {@code tokens} mode by tokens, in {@code hybrid} mode by both. It does not
 * fail open: when every candidate is at its limit, none is kept.
 *
 * <p>Parameters (llm-d names and defaults):
 *
 * <ul>
 *   <li>{@code concurrencyMode} (string, default {@code requests}): {@code requests}, {@code tokens} or
 *       {@code hybrid}.
 *   <li>{@code maxConcurrency} (integer, default 100): ideal in-flight requests per endpoint; above 0.
 *   <li>{@code maxTokenConcurrency} (integer, default 1000000): ideal in-flight tokens per endpoint; above 0.
 *   <li>{@code headroom} (number, default 0.0): the filter's burst allowance above capacity; at least 0.
 *   <li>{@code inFlightLoadProducerName} (string, default {@code inflight-load-producer}): the producer to read.
 * </ul>
 */
public final class ConcurrencyDetector implements SaturationDetector, Filter {

  /** The plugin type. */
  public static final String TYPE = "concurrency-detector";

  private static final String CONCURRENCY_MODE = "concurrencyMode";
  private static final String MAX_CONCURRENCY = "maxConcurrency";
  private static final String MAX_TOKEN_CONCURRENCY = "maxTokenConcurrency";
  private static final String HEADROOM = "headroom";

  /** What the detector counts. */
  enum Mode {
    REQUESTS,
    TOKENS,
    HYBRID
  }

  private final TypedName typedName;
  private final InFlightLoad load;
  private final Mode mode;
  private final long maxConcurrency;
  private final long maxTokenConcurrency;
  private final long requestLimit;
  private final long tokenLimit;

  /**
   * A detector named {@code name} reading {@code load}.
   *
   * @throws PluginConfigException if a parameter is invalid
   */
  public ConcurrencyDetector(String name, Parameters parameters, InFlightLoad load) {
    this.typedName = new TypedName(TYPE, name);
    this.load = load;
    String mode = parameters.getString(CONCURRENCY_MODE, "requests");
    try {
      this.mode = Mode.valueOf(mode.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw parameters.invalid(CONCURRENCY_MODE, "must be requests, tokens or hybrid, got \"" + mode + "\"");
    }
    this.maxConcurrency = positive(parameters, MAX_CONCURRENCY, 100);
    this.maxTokenConcurrency = positive(parameters, MAX_TOKEN_CONCURRENCY, 1_000_000);
    double headroom = parameters.getDouble(HEADROOM, 0.0);
    if (headroom < 0) {
      throw parameters.invalid(HEADROOM, "must be at least 0, got " + headroom);
    }
    this.requestLimit = (long) (maxConcurrency * (1 + headroom));
    this.tokenLimit = (long) (maxTokenConcurrency * (1 + headroom));
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public double saturation(Candidates candidates) {
    int n = candidates.size();
    if (n == 0) {
      return 1.0;
    }
    long requests = 0;
    long tokens = 0;
    double hybrid = 0;
    for (int i = 0; i < n; i++) {
      Endpoint endpoint = candidates.endpoint(i);
      long r = load.requests(endpoint);
      long t = load.tokens(endpoint);
      requests += r;
      tokens += t;
      hybrid += Math.max((double) r / maxConcurrency, (double) t / maxTokenConcurrency);
    }
    return switch (mode) {
      case REQUESTS -> (double) requests / ((double) n * maxConcurrency);
      case TOKENS -> (double) tokens / ((double) n * maxTokenConcurrency);
      case HYBRID -> hybrid / n;
    };
  }

  @Override
  public void filter(RequestContext context, Candidates candidates, BitSet keep) {
    for (int i = 0; i < candidates.size(); i++) {
      if (!admits(candidates.endpoint(i))) {
        keep.clear(i);
      }
    }
  }

  private boolean admits(Endpoint endpoint) {
    return switch (mode) {
      case REQUESTS -> load.requests(endpoint) < requestLimit;
      case TOKENS -> load.tokens(endpoint) < tokenLimit;
      case HYBRID -> load.requests(endpoint) < requestLimit && load.tokens(endpoint) < tokenLimit;
    };
  }

  private static long positive(Parameters parameters, String key, long defaultValue) {
    long value = parameters.getLong(key, defaultValue);
    if (value <= 0) {
      throw parameters.invalid(key, "must be greater than 0, got " + value);
    }
    return value;
  }

  /** Creates {@link ConcurrencyDetector}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public ConcurrencyDetector create(PluginSpec spec, PluginHandle handle) {
      Parameters parameters = spec.parameters();
      return new ConcurrencyDetector(spec.name(), parameters, InFlightLoad.find(parameters, handle));
    }
  }
}
