package dev.epp.scheduler.plugins.prefix;

import static dev.epp.scheduler.plugins.filter.Filtering.kept;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.ConfigDialect;
import dev.epp.api.InferenceRequest;
import dev.epp.api.MetricsRecorder;
import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestBody;
import dev.epp.api.RequestContext;
import dev.epp.api.Ticker;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.ProfileResult;
import dev.epp.api.scheduling.SchedulingResult;
import dev.epp.scheduler.plugins.load.InFlightLoadProducer;
import dev.epp.testkit.FakeTicker;
import dev.epp.testkit.FilterContract;
import dev.epp.testkit.Fixtures;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.random.RandomGenerator;
import org.junit.jupiter.api.Test;

class PrefixCacheAffinityFilterTest implements FilterContract<PrefixCacheAffinityFilter> {

  private static final Candidates THREE = Fixtures.unscraped(3);

  private final InFlightLoadProducer load = new InFlightLoadProducer(InFlightLoadProducer.TYPE, Parameters.empty());
  private final Map<String, Object> plugins = new HashMap<>(Map.of(InFlightLoadProducer.TYPE, load));
  /** What {@link PluginHandle#random()} draws next. */
  private double nextDraw = 0.5;
  /** What {@link PluginHandle#dialect()} answers. */
  private ConfigDialect dialect = ConfigDialect.LLM_D;

  @Override
  public PrefixCacheAffinityFilter newFilter() {
    return create(Map.of());
  }

  @Override
  public PluginFactory factory() {
    return new PrefixCacheAffinityFilter.Factory();
  }

  @Override
  public PluginHandle newHandle() {
    return handle();
  }

  /** Candidate 0 holds the whole prompt, 1 most of it, the rest little or nothing. */
  @Override
  public RequestContext newContext() {
    return withMatch(new PrefixMatch(new int[] {5, 4, 1, 0, 5, 2}, 5, 16));
  }

  private PluginHandle handle() {
    return new PluginHandle() {
      @Override
      public Ticker ticker() {
        return new FakeTicker();
      }

      @Override
      public RandomGenerator random() {
        return new RandomGenerator() {
          @Override
          public long nextLong() {
            throw new AssertionError("only nextDouble is drawn");
          }

          @Override
          public double nextDouble() {
            return nextDraw;
          }
        };
      }

      @Override
      public ConfigDialect dialect() {
        return dialect;
      }

      @Override
      public <T> Optional<T> plugin(String name, Class<T> type) {
        return Optional.ofNullable(plugins.get(name)).filter(type::isInstance).map(type::cast);
      }
    };
  }

  private PrefixCacheAffinityFilter create(Map<String, Object> parameters) {
    return new PrefixCacheAffinityFilter.Factory().create(
        new PluginSpec("affinity", PrefixCacheAffinityFilter.TYPE, Parameters.of(parameters)), handle());
  }

  private PluginConfigException invalid(Map<String, Object> parameters) {
    return assertThrows(PluginConfigException.class, () -> create(parameters));
  }

  private static RequestContext withMatch(PrefixMatch match) {
    RequestContext context = Fixtures.context();
    context.put(PrefixMatch.KEY, match);
    return context;
  }

  /** Scores {@code matched[i] / 5}. */
  private static RequestContext scores(int... matched) {
    return withMatch(new PrefixMatch(matched, 5, 16));
  }

  /** Routes a prompt of {@code tokens} tokens (4 characters each) to candidate {@code i}, as in-flight load. */
  private void loadTokens(int i, int tokens) {
    RequestContext context = new RequestContext(InferenceRequest.builder().requestId("r").model("m")
        .body(new RequestBody(RequestBody.Api.COMPLETIONS, false, "", "x".repeat(4 * tokens))).build());
    load.prepareData(context, THREE);
    load.preRequest(context, new SchedulingResult("p", Map.of("p", new ProfileResult(List.of(THREE.endpoint(i))))));
  }

  @Test
  void keepsOnlyCandidatesAtOrAboveTheDefaultThreshold() {
    // Scores 1.0, 0.8 (exactly the default 0.80 threshold) and 0.6.
    assertEquals("{0, 1}", kept(newFilter(), scores(5, 4, 3), THREE));
  }

  @Test
  void keepsEveryCandidateWhenNoneIsSticky() {
    assertEquals("{0, 1, 2}", kept(newFilter(), scores(3, 0, 2), THREE));
  }

  @Test
  void keepsEveryCandidateWithoutAMatchOrBlocks() {
    assertEquals("{0, 1, 2}", kept(newFilter(), Fixtures.context(), THREE));
    assertEquals("{0, 1, 2}", kept(newFilter(), withMatch(new PrefixMatch(new int[3], 0, 16)), THREE));
  }

  @Test
  void aThresholdOfZeroOrLessKeepsEveryCandidate() {
    assertEquals("{0, 1, 2}", kept(create(Map.of("affinityThreshold", 0.0)), scores(5, 0, 0), THREE));
    assertEquals("{0, 1, 2}", kept(create(Map.of("affinityThreshold", -0.5)), scores(5, 0, 0), THREE));
  }

  @Test
  void aConfiguredThresholdMovesTheCut() {
    assertEquals("{0}", kept(create(Map.of("affinityThreshold", 0.99)), scores(5, 4, 3), THREE));
    assertEquals("{0, 1, 2}", kept(create(Map.of("affinityThreshold", 0.6)), scores(5, 4, 3), THREE));
  }

  @Test
  void readsScoresByPositionNotIndex() {
    // The survivors of earlier filters: positions 2 and 0 of the request's candidates.
    Candidates survivors = Fixtures.survivors(2, 0);
    assertEquals("{0}", kept(newFilter(), scores(1, 3, 5), survivors));
  }

  @Test
  void stickyCandidatesStayWhileTheirTtftPenaltyIsWithinTheLimit() {
    // peak 1000 tokens/s: 1 in-flight token = 1 ms of estimated TTFT.
    PrefixCacheAffinityFilter filter =
        create(Map.of("maxTTFTPenaltyMs", 100, "peakPrefillThroughput", 1000, "affinityThreshold", 0.8));
    loadTokens(0, 300);
    loadTokens(1, 200);
    loadTokens(2, 100);
    // Best sticky 200 ms, best other 100 ms: penalty 100 is not above 100.
    assertEquals("{0, 1}", kept(filter, scores(5, 4, 0), THREE));
  }

  @Test
  void stickinessBreaksWhenTheBestStickyTtftExceedsTheBestOtherByMoreThanTheLimit() {
    PrefixCacheAffinityFilter filter =
        create(Map.of("maxTTFTPenaltyMs", 100, "peakPrefillThroughput", 1000, "affinityThreshold", 0.8));
    loadTokens(0, 300);
    loadTokens(1, 201);
    loadTokens(2, 100);
    // Best sticky 201 ms, best other 100 ms: penalty 101 > 100.
    assertEquals("{0, 1, 2}", kept(filter, scores(5, 4, 0), THREE));
  }

  @Test
  void defaultGateBreaksPastEighteenSecondsAtTheDefaultPeakThroughput() {
    // 15928 tokens/s: 286705 tokens ≈ 18000.06 ms, 286703 tokens ≈ 17999.94 ms.
    loadTokens(0, 286_703);
    assertEquals("{0}", kept(newFilter(), scores(5, 0, 0), THREE));
    loadTokens(0, 2);
    assertEquals("{0, 1, 2}", kept(newFilter(), scores(5, 0, 0), THREE));
  }

  @Test
  void gieDefaultsExploreOnePercentAndBreakPastFiveSeconds() {
    dialect = ConfigDialect.GIE;
    PrefixCacheAffinityFilter gie = newFilter();
    nextDraw = 0.0099;
    assertEquals("{0, 1, 2}", kept(gie, scores(5, 0, 0), THREE));
    nextDraw = 0.01;
    assertEquals("{0}", kept(gie, scores(5, 0, 0), THREE));
    // 15928 tokens/s: 79640 tokens = 5000 ms exactly, 79641 ≈ 5000.06 ms.
    loadTokens(0, 79_640);
    assertEquals("{0}", kept(gie, scores(5, 0, 0), THREE));
    loadTokens(0, 1);
    assertEquals("{0, 1, 2}", kept(gie, scores(5, 0, 0), THREE));

    PrefixCacheAffinityFilter explicit = create(Map.of("explorationProbability", 0, "maxTTFTPenaltyMs", 18_000));
    nextDraw = 0.0;
    assertEquals("{0}", kept(explicit, scores(5, 0, 0), THREE), "explicit values win under GIE");
    dialect = ConfigDialect.LLM_D;
    assertEquals("{0}", kept(newFilter(), scores(5, 0, 0), THREE), "llm-d: no exploration, 18 s limit");
    PrefixCacheAffinityFilter explicitLlmd =
        create(Map.of("explorationProbability", 0.01, "maxTTFTPenaltyMs", 5_000));
    nextDraw = 0.5;
    assertEquals("{0, 1, 2}", kept(explicitLlmd, scores(5, 0, 0), THREE), "explicit values win under llm-d");
  }

  @Test
  void stickinessBreaksWhenTheBestStickyInFlightTokensExceedTheBestOtherByMoreThanTheTokenLimit() {
    PrefixCacheAffinityFilter filter =
        create(Map.of("maxTTFTPenaltyMs", 0, "maxTokensInFlightPenalty", 100, "affinityThreshold", 0.8));
    loadTokens(0, 300);
    loadTokens(1, 200);
    loadTokens(2, 100);
    // Best sticky 200 tokens, best other 100: 100 is not above 100.
    assertEquals("{0, 1}", kept(filter, scores(5, 4, 0), THREE));
    loadTokens(1, 1);
    // 201 - 100 > 100.
    assertEquals("{0, 1, 2}", kept(filter, scores(5, 4, 0), THREE));
  }

  @Test
  void theTokenGateNeedsTheLoadProducer() {
    plugins.clear();
    assertEquals("inFlightLoadProducerName",
        invalid(Map.of("maxTTFTPenaltyMs", 0, "maxTokensInFlightPenalty", 1)).parameter());
  }

  @Test
  void zeroPenaltyAlwaysSticksAndNeedsNoLoadProducer() {
    plugins.clear();
    PrefixCacheAffinityFilter filter = create(Map.of("maxTTFTPenaltyMs", 0));
    assertEquals("{1}", kept(filter, scores(0, 5, 0), THREE));
  }

  @Test
  void allStickyCandidatesStayWhateverTheirLoad() {
    loadTokens(0, 1_000_000);
    assertEquals("{0, 1, 2}", kept(newFilter(), scores(5, 5, 4), THREE));
    assertEquals("{0, 1}", kept(newFilter(), scores(5, 5, 0), Fixtures.unscraped(2)));
  }

  @Test
  void explorationSkipsTheGateWhenTheDrawFallsBelowTheProbability() {
    PrefixCacheAffinityFilter filter = create(Map.of("explorationProbability", 0.3));
    nextDraw = 0.29;
    assertEquals("{0, 1, 2}", kept(filter, scores(5, 0, 0), THREE));
    nextDraw = 0.3;
    assertEquals("{0}", kept(filter, scores(5, 0, 0), THREE));
  }

  @Test
  void readsTheNamedPrefixMatchProducer() {
    ApproxPrefixCacheProducer other =
        new ApproxPrefixCacheProducer("other", Parameters.empty(), ConfigDialect.LLM_D,
        MetricsRecorder.noop());
    plugins.put("other", other);
    PrefixCacheAffinityFilter filter = create(Map.of("prefixMatchInfoProducerName", "other"));
    RequestContext context = scores(5, 0, 0);
    assertEquals("{0, 1, 2}", kept(filter, context, THREE));
    context.put(other.matchKey(), new PrefixMatch(new int[] {0, 0, 5}, 5, 16));
    assertEquals("{2}", kept(filter, context, THREE));
  }

  @Test
  void rejectsInvalidParameters() {
    assertEquals("affinityThreshold", invalid(Map.of("affinityThreshold", 1.01)).parameter());
    assertEquals("explorationProbability", invalid(Map.of("explorationProbability", -0.1)).parameter());
    assertEquals("explorationProbability", invalid(Map.of("explorationProbability", 1.1)).parameter());
    assertEquals("maxTTFTPenaltyMs", invalid(Map.of("maxTTFTPenaltyMs", -1)).parameter());
    assertEquals("maxTokensInFlightPenalty", invalid(Map.of("maxTokensInFlightPenalty", -1)).parameter());
    assertEquals("peakPrefillThroughput", invalid(Map.of("peakPrefillThroughput", -1)).parameter());
    assertEquals("peakPrefillThroughput", invalid(Map.of("peakPrefillThroughput", 0)).parameter());
    assertEquals("ttftSource", invalid(Map.of("ttftSource", "guess")).parameter());
    create(Map.of("peakPrefillThroughput", 0, "maxTTFTPenaltyMs", 0));
  }

  @Test
  void refusesTheLatencyPredictorSource() {
    PluginConfigException e = invalid(Map.of("ttftSource", "latencyPredictor"));
    assertEquals("ttftSource", e.parameter());
    assertTrue(e.getMessage().contains("no latency predictor"), e.getMessage());
  }

  @Test
  void namedProducersMustBeDeclaredBefore() {
    assertEquals("prefixMatchInfoProducerName",
        invalid(Map.of("prefixMatchInfoProducerName", "missing")).parameter());
    assertEquals("inFlightLoadProducerName", invalid(Map.of("inFlightLoadProducerName", "missing")).parameter());
    plugins.clear();
    assertEquals("inFlightLoadProducerName", invalid(Map.of()).parameter());
  }

  @Test
  void acceptsTheLlmdProducerNameParameters() {
    createThroughFactory("affinity", Parameters.of(Map.of("inFlightLoadProducerName", InFlightLoadProducer.TYPE,
        "prefixMatchInfoProducerName", "", "latencyPredictionInfoProducerName", "predicted-latency-producer",
        "ttftSource", "prefillThroughput")));
    createThroughFactory("affinity", Parameters.of(Map.of("maxTTFTPenaltyMs", 0,
        "inFlightLoadProducerName", "unused-without-the-gate")));
  }
}
