package dev.epp.scheduler;

import dev.epp.api.Endpoint;
import dev.epp.api.RequestContext;
import dev.epp.api.TypedName;
import dev.epp.api.scheduling.Candidates;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Why one scheduling call chose what it chose: for each profile run, the candidates, what each filter removed, each
 * scorer's score for each survivor, and the picker's totals and picks, with each plugin call's duration. Recorded only
 * where wanted, since recording allocates: for every request with {@link Director.Builder#explainEveryRequest}, for the
 * requests a {@link DecisionLog} samples, and for traced requests whose span records.
 *
 * <p>Endpoints are named by {@link Endpoint#name()}.
 *
 * <p><b>Threading:</b> filled by the scheduling thread, then read-only; safe to read from any thread once the
 * {@link Routing} carrying it is published.
 */
public final class Explanation {

  private final List<ProfileRun> profiles = new ArrayList<>(2);
  private final List<ProfileRun> view = Collections.unmodifiableList(profiles);
  private Endpoint[] candidates = new Endpoint[0];

  /** An empty explanation, for {@link Scheduler#schedule(RequestContext, Candidates, Explanation)} to fill. */
  public Explanation() {}

  /** The profile runs in run order. */
  public List<ProfileRun> profiles() {
    return view;
  }

  /** Each candidate's {@link Endpoint#hostPort()} by name, in candidate order; made at each call. */
  public Map<String, String> addresses() {
    Map<String, String> byName = new LinkedHashMap<>(candidates.length * 2);
    for (Endpoint candidate : candidates) {
      byName.put(candidate.name(), candidate.hostPort());
    }
    return Collections.unmodifiableMap(byName);
  }

  void candidates(Candidates candidates) {
    Endpoint[] endpoints = new Endpoint[candidates.size()];
    for (int i = 0; i < endpoints.length; i++) {
      endpoints[i] = candidates.endpoint(i);
    }
    this.candidates = endpoints;
  }

  void add(ProfileRun run) {
    profiles.add(run);
  }

  /**
   * One profile's run.
   *
   * @param profile the profile's name
   * @param candidates the endpoints it started from, in candidate order
   * @param filters each filter in order; a run stops after the filter that removes the last candidate
   * @param scorers each scorer in order; empty when the filters left no candidate
   * @param pick the picker's choice; {@code null} when the filters left no candidate
   */
  public record ProfileRun(String profile, List<String> candidates, List<FilterStep> filters,
      List<ScorerStep> scorers, PickStep pick) {}

  /**
   * One filter call.
   *
   * @param filter the filter
   * @param removed the candidates it removed (none if it threw: a failing filter keeps everyone)
   * @param nanos how long the call took
   */
  public record FilterStep(TypedName filter, List<String> removed, long nanos) {}

  /**
   * One scorer call.
   *
   * @param scorer the scorer
   * @param weight its weight in the profile
   * @param scores its score per surviving candidate as used, clamped to [0, 1] (0 for all if it threw), in candidate
   *     order
   * @param nanos how long the call took
   */
  public record ScorerStep(TypedName scorer, double weight, Map<String, Double> scores, long nanos) {}

  /**
   * The picker's call.
   *
   * @param picker the picker
   * @param totals the weighted total per surviving candidate, in candidate order
   * @param picked the endpoints picked, primary first
   * @param nanos how long the call took
   */
  public record PickStep(TypedName picker, Map<String, Double> totals, List<String> picked, long nanos) {}
}
