package dev.epp.scheduler.plugins.prefix;

import dev.epp.api.ConfigDialect;
import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.StateKey;
import dev.epp.api.TypedName;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.Filter;
import dev.epp.scheduler.plugins.load.InFlightLoad;
import java.util.BitSet;
import java.util.random.RandomGenerator;

/**
 * Sticks a request to the candidates that probably hold its prompt prefix until they are too loaded: llm-d's
 * {@code prefix-cache-affinity-filter}. A candidate is sticky when its prefix score {@code matchedBlocks/totalBlocks}
 * (from the {@link PrefixMatch}) is at least {@code affinityThreshold}; the filter keeps only the sticky candidates,
 * and keeps every candidate when
 *
 * <ul>
 *   <li>there are fewer than two candidates, {@code affinityThreshold} is at most 0, or no candidate is sticky;
 *   <li>a draw from {@link PluginHandle#random()} falls below {@code explorationProbability} (exploration);
 *   <li>the TTFT load gate breaks: {@code maxTTFTPenaltyMs} is above 0, some candidate is not sticky, and the lowest
 *       estimated TTFT of the sticky candidates exceeds that of the others by more than {@code maxTTFTPenaltyMs}. A
 *       candidate's TTFT is estimated as {@code inFlightTokens / peakPrefillThroughput × 1000} ms, in-flight tokens
 *       read from the {@code inflight-load-producer};
 *   <li>the in-flight token gate breaks: {@code maxTokensInFlightPenalty} is above 0, some candidate is not sticky,
 *       and the fewest in-flight tokens of the sticky candidates exceed those of the others by more than
 *       {@code maxTokensInFlightPenalty}.
 * </ul>
 *
 * <p>Parameters (llm-d names and defaults; under {@link ConfigDialect#GIE} the GIE v1.5 EPP's where they differ):
 * {@code affinityThreshold} (0.80, at most 1), {@code explorationProbability} (0; GIE 0.01; in [0, 1]),
 * {@code maxTTFTPenaltyMs} (18000; GIE 5000; at least 0; 0 = always stick), {@code maxTokensInFlightPenalty} (0 = off, at least 0),
 * {@code ttftSource}
 * ({@code prefillThroughput}; {@code latencyPredictor} is refused: this EPP has no latency predictor),
 * {@code peakPrefillThroughput} (15928 tokens/s, above 0 when the gate is on), {@code prefixMatchInfoProducerName}
 * (see {@link PrefixMatch#key}), {@code inFlightLoadProducerName} (see {@link InFlightLoad#find}; needed only when
 * a gate is on) and {@code latencyPredictionInfoProducerName} (accepted for llm-d configurations, unused).
 *
 * <p>Allocates nothing per call.
 */
public final class PrefixCacheAffinityFilter implements Filter {

  /** The plugin type. */
  public static final String TYPE = "prefix-cache-affinity-filter";

  static final String AFFINITY_THRESHOLD = "affinityThreshold";
  static final String EXPLORATION_PROBABILITY = "explorationProbability";
  static final String MAX_TTFT_PENALTY_MS = "maxTTFTPenaltyMs";
  static final String MAX_TOKENS_IN_FLIGHT_PENALTY = "maxTokensInFlightPenalty";
  static final String TTFT_SOURCE = "ttftSource";
  static final String PEAK_PREFILL_THROUGHPUT = "peakPrefillThroughput";
  static final String LATENCY_PRODUCER_NAME = "latencyPredictionInfoProducerName";
  static final String PREFILL_THROUGHPUT = "prefillThroughput";
  static final String LATENCY_PREDICTOR = "latencyPredictor";

  private final TypedName typedName;
  private final StateKey<PrefixMatch> matchKey;
  private final InFlightLoad load;
  private final RandomGenerator random;
  private final double threshold;
  private final double explorationProbability;
  private final double maxPenaltyMs;
  private final long maxPenaltyTokens;
  private final double peakPrefillThroughput;

  private PrefixCacheAffinityFilter(String name, Parameters parameters, PluginHandle handle) {
    this.typedName = new TypedName(TYPE, name);
    this.threshold = parameters.getDouble(AFFINITY_THRESHOLD, 0.80);
    if (threshold > 1.0) {
      throw parameters.invalid(AFFINITY_THRESHOLD, "must be at most 1.0, got " + threshold);
    }
    boolean gie = handle.dialect() == ConfigDialect.GIE;
    this.explorationProbability = parameters.getDouble(EXPLORATION_PROBABILITY, gie ? 0.01 : 0.0);
    if (explorationProbability < 0.0 || explorationProbability > 1.0) {
      throw parameters.invalid(EXPLORATION_PROBABILITY, "must be in [0, 1], got " + explorationProbability);
    }
    this.maxPenaltyMs = parameters.getDouble(MAX_TTFT_PENALTY_MS, gie ? 5_000.0 : 18_000.0);
    if (maxPenaltyMs < 0.0) {
      throw parameters.invalid(MAX_TTFT_PENALTY_MS, "must be at least 0, got " + maxPenaltyMs);
    }
    this.maxPenaltyTokens = parameters.getLong(MAX_TOKENS_IN_FLIGHT_PENALTY, 0);
    if (maxPenaltyTokens < 0) {
      throw parameters.invalid(MAX_TOKENS_IN_FLIGHT_PENALTY, "must be at least 0, got " + maxPenaltyTokens);
    }
    String source = parameters.getString(TTFT_SOURCE, PREFILL_THROUGHPUT);
    if (source.equals(LATENCY_PREDICTOR)) {
      throw parameters.invalid(TTFT_SOURCE, "'" + LATENCY_PREDICTOR + "' is not supported: this EPP has no latency "
          + "predictor; use '" + PREFILL_THROUGHPUT + "' (TTFT estimated from in-flight tokens)");
    }
    if (!source.equals(PREFILL_THROUGHPUT)) {
      throw parameters.invalid(TTFT_SOURCE, "must be '" + PREFILL_THROUGHPUT + "' or '" + LATENCY_PREDICTOR
          + "', got '" + source + "'");
    }
    this.peakPrefillThroughput = parameters.getDouble(PEAK_PREFILL_THROUGHPUT, 15_928.0);
    if (peakPrefillThroughput < 0.0) {
      throw parameters.invalid(PEAK_PREFILL_THROUGHPUT, "must be at least 0, got " + peakPrefillThroughput);
    }
    if (maxPenaltyMs > 0.0 && peakPrefillThroughput == 0.0) {
      throw parameters.invalid(PEAK_PREFILL_THROUGHPUT, "must be greater than 0 when " + MAX_TTFT_PENALTY_MS
          + " is greater than 0, got " + peakPrefillThroughput);
    }
    parameters.getString(LATENCY_PRODUCER_NAME, "");
    this.matchKey = PrefixMatch.key(parameters, handle);
    this.load = maxPenaltyMs > 0.0 || maxPenaltyTokens > 0 ? InFlightLoad.find(parameters, handle) : null;
    if (load == null) {
      parameters.getString(InFlightLoad.PRODUCER_NAME, "");
    }
    this.random = handle.random();
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public void filter(RequestContext context, Candidates candidates, BitSet keep) {
    int n = candidates.size();
    if (n <= 1 || threshold <= 0.0) {
      return;
    }
    if (explorationProbability > 0.0 && random.nextDouble() < explorationProbability) {
      return;
    }
    PrefixMatch match = context.get(matchKey);
    if (match == null || match.totalBlocks() == 0) {
      return;
    }
    double total = match.totalBlocks();
    int sticky = 0;
    long bestStickyTokens = Long.MAX_VALUE;
    long bestOtherTokens = Long.MAX_VALUE;
    for (int i = 0; i < n; i++) {
      boolean isSticky = match.matchedBlocks(candidates.position(i)) / total >= threshold;
      if (isSticky) {
        sticky++;
      }
      if (load != null) {
        long tokens = load.tokens(candidates.endpoint(i));
        if (isSticky) {
          bestStickyTokens = Math.min(bestStickyTokens, tokens);
        } else {
          bestOtherTokens = Math.min(bestOtherTokens, tokens);
        }
      }
    }
    if (sticky == 0 || (load != null && sticky < n && loadGateBreaks(bestStickyTokens, bestOtherTokens))) {
      return;
    }
    for (int i = 0; i < n; i++) {
      if (match.matchedBlocks(candidates.position(i)) / total < threshold) {
        keep.clear(i);
      }
    }
  }

  /** Whether the sticky candidates' least in-flight load is too far above the others' for either gate. */
  private boolean loadGateBreaks(long stickyTokens, long otherTokens) {
    if (maxPenaltyTokens > 0 && stickyTokens - otherTokens > maxPenaltyTokens) {
      return true;
    }
    return maxPenaltyMs > 0.0
        && stickyTokens / peakPrefillThroughput * 1000.0 - otherTokens / peakPrefillThroughput * 1000.0 > maxPenaltyMs;
  }

  /** Creates {@link PrefixCacheAffinityFilter}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    /**
     * Validates the parameters and creates the filter.
     *
     * @throws PluginConfigException if a parameter is invalid or a named producer is not declared
     */
    @Override
    public PrefixCacheAffinityFilter create(PluginSpec spec, PluginHandle handle) {
      return new PrefixCacheAffinityFilter(spec.name(), spec.parameters(), handle);
    }
  }
}
