package dev.epp.scheduler;

import dev.epp.api.Endpoint;
import dev.epp.api.InferenceException;
import dev.epp.api.InferenceException.Code;
import dev.epp.api.MetricsRecorder;
import dev.epp.api.RequestContext;
import dev.epp.api.Ticker;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.ProfileHandler;
import dev.epp.api.scheduling.ProfileResult;
import dev.epp.api.scheduling.SchedulingResult;
import dev.epp.api.scheduling.Scorer;
import dev.epp.scheduler.SchedulingProfile.WeightedScorer;
import dev.epp.scheduler.internal.FailureLog;
import dev.epp.scheduler.internal.ProfileRunner;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.LongConsumer;

/**
 * Picks the endpoints that serve a request, as the Go EPP's scheduler does: the profile handler chooses profiles
 * until it has what it needs, each profile filters, scores and picks, and the handler combines the results.
 *
 * <pre>{@code
 * Scheduler scheduler = new Scheduler(EndpointPickerConfig.parse(yaml));
 * SchedulingResult result = scheduler.schedule(new RequestContext(request), pool.snapshot());
 * Endpoint target = result.targets().get(0);
 * }</pre>
 *
 * <p>A plugin that throws is contained (logged at most once a minute): a filter keeps every candidate, a scorer
 * scores 0, a picker is replaced by the highest total score. The request still gets a decision.
 *
 * <p>Every call reports to the {@link MetricsRecorder}: its latency, whether it succeeded (with the primary
 * endpoint), and each plugin call's latency under the Go extension-point names ({@code ProfilePicker},
 * {@code Filter}, {@code Scorer}, {@code Picker}, {@code ProcessProfilesResults}).
 *
 * <p><b>Threading:</b> thread-safe, lock-free and free of I/O; it allocates only the result. A plugin must not call
 * back into the scheduler from inside a scheduling call.
 */
public final class Scheduler {

  private final Ticker ticker;
  private final MetricsRecorder metrics;
  private final ProfileHandler handler;
  private final LongConsumer pickLatency;
  private final LongConsumer processResultsLatency;
  private final List<String> profileNames;
  private final Map<String, ProfileRunner> runners;

  /** A scheduler over the configuration's profiles and handler, timed by the system clock. */
  public Scheduler(EndpointPickerConfig config) {
    this(config, Ticker.system());
  }

  /**
   * A scheduler that reports its latency, attempts and plugin latencies to the configuration's
   * {@linkplain EndpointPickerConfig#metrics() recorder}.
   *
   * @param ticker the time source for latencies and for rate-limiting failure logs
   */
  public Scheduler(EndpointPickerConfig config, Ticker ticker) {
    this.ticker = ticker;
    this.metrics = config.metrics();
    FailureLog failures = new FailureLog(ticker);
    Map<String, ProfileRunner> byName = new LinkedHashMap<>();
    for (SchedulingProfile profile : config.profiles()) {
      List<Scorer> scorers = new ArrayList<>();
      double[] weights = new double[profile.scorers().size()];
      for (WeightedScorer weighted : profile.scorers()) {
        weights[scorers.size()] = weighted.weight();
        scorers.add(weighted.scorer());
      }
      byName.put(profile.name(),
          new ProfileRunner(profile.name(), profile.filters(), scorers, weights, profile.picker(), failures,
              ticker, metrics));
    }
    this.handler = config.profileHandler();
    this.pickLatency = metrics.pluginLatency("ProfilePicker", handler.typedName());
    this.processResultsLatency = metrics.pluginLatency("ProcessProfilesResults", handler.typedName());
    this.runners = Collections.unmodifiableMap(byName);
    this.profileNames = List.copyOf(byName.keySet());
  }

  /**
   * Schedules one request.
   *
   * @param context the request and its per-request state
   * @param candidates the endpoints that may serve it, with their metrics
   * @return the targets, primary first; never empty
   * @throws InferenceException {@code SERVICE_UNAVAILABLE} if there are no candidates, {@code RESOURCE_EXHAUSTED}
   *     if no endpoint survives scheduling, {@code INTERNAL} if the profile handler misbehaves
   */
  public SchedulingResult schedule(RequestContext context, Candidates candidates) {
    return schedule(context, candidates, null);
  }

  /**
   * Schedules one request as {@link #schedule(RequestContext, Candidates)} does, and records each profile run in
   * {@code explanation} unless it is {@code null}.
   */
  public SchedulingResult schedule(RequestContext context, Candidates candidates, Explanation explanation) {
    long start = ticker.nanos();
    String targetModel = context.request().targetModel();
    if (explanation != null) {
      explanation.candidates(candidates);
    }
    try {
      SchedulingResult result = run(context, candidates, explanation == null ? null : explanation::add);
      Endpoint primary = result.targets().get(0);
      metrics.recordSchedulingAttempt(targetModel, primary);
      return result;
    } catch (InferenceException e) {
      metrics.recordSchedulingAttempt(targetModel, null);
      throw e;
    } finally {
      metrics.recordSchedulerLatency(ticker.nanos() - start);
    }
  }

  /** {@code results} and one more, unmodifiable and in run order. */
  private static Map<String, ProfileResult> withResult(
      Map<String, ProfileResult> results, String name, ProfileResult result) {
    if (results.isEmpty()) {
      return Map.of(name, result);
    }
    Map<String, ProfileResult> more = new LinkedHashMap<>(results);
    more.put(name, result);
    return Collections.unmodifiableMap(more);
  }

  private SchedulingResult run(RequestContext context, Candidates candidates,
      Consumer<Explanation.ProfileRun> explained) {
    if (candidates.size() == 0) {
      throw new InferenceException(Code.SERVICE_UNAVAILABLE, "no candidate endpoints for the request");
    }
    // Unmodifiable, in run order; with one profile a Map.of, which SchedulingResult keeps without a copy.
    Map<String, ProfileResult> results = Map.of();
    for (int round = 0; ; round++) {
      List<String> next;
      long pickStart = ticker.nanos();
      try {
        next = handler.pickProfiles(context, profileNames, results);
      } catch (RuntimeException e) {
        throw internal("profile handler " + handler.typedName() + " failed: " + e);
      } finally {
        pickLatency.accept(ticker.nanos() - pickStart);
      }
      if (next.isEmpty()) {
        break;
      }
      if (round > profileNames.size()) {
        throw internal("profile handler " + handler.typedName() + " did not stop picking profiles");
      }
      for (String name : next) {
        ProfileRunner runner = runners.get(name);
        if (runner == null || results.containsKey(name)) {
          throw internal("profile handler " + handler.typedName() + " picked "
              + (runner == null ? "unknown" : "already run") + " profile '" + name + "'");
        }
        results = withResult(results, name, runner.run(context, candidates, explained));
      }
    }
    if (results.isEmpty()) {
      throw new InferenceException(Code.RESOURCE_EXHAUSTED,
          "failed to find target endpoint: profile handler " + handler.typedName() + " ran no profile");
    }
    SchedulingResult result;
    long processStart = ticker.nanos();
    try {
      result = handler.processResults(context, results);
    } catch (InferenceException e) {
      throw e;
    } catch (RuntimeException e) {
      throw internal("profile handler " + handler.typedName() + " failed: " + e);
    } finally {
      processResultsLatency.accept(ticker.nanos() - processStart);
    }
    if (result == null) {
      throw internal("profile handler " + handler.typedName() + " returned no result");
    }
    return result;
  }

  private static InferenceException internal(String message) {
    return new InferenceException(Code.INTERNAL, message);
  }
}
