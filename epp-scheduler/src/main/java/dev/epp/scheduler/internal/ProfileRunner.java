package dev.epp.scheduler.internal;

import dev.epp.api.Endpoint;
import dev.epp.api.MetricsRecorder;
import dev.epp.api.Plugin;
import dev.epp.api.RequestContext;
import dev.epp.api.Ticker;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.Filter;
import dev.epp.api.scheduling.Picker;
import dev.epp.api.scheduling.ProfileResult;
import dev.epp.api.scheduling.Scorer;
import dev.epp.scheduler.Explanation;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.LongConsumer;

/**
 * Runs one scheduling profile (Go {@code SchedulerProfile.Run}): filters in order, stopping when none survive;
 * clamped weighted sum of scorer outputs; picker. Plugin failures are contained: a throwing filter keeps everyone, a
 * throwing scorer contributes 0, a throwing or misbehaving picker is replaced by the highest total score.
 *
 * <p>Plugin arrays are fixed at configuration time. Working arrays come from a per-thread {@link Scratch}, so a run
 * allocates only its result.
 *
 * <p><b>Threading:</b> thread-safe; not re-entrant on one thread (a plugin must not schedule from inside a run).
 */
public final class ProfileRunner {

  private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

  private final String name;
  private final Filter[] filters;
  private final Scorer[] scorers;
  private final double[] weights;
  private final Picker picker;
  private final FailureLog failures;
  private final Ticker ticker;
  private final LongConsumer[] filterLatency;
  private final LongConsumer[] scorerLatency;
  private final LongConsumer pickerLatency;

  /**
   * A runner over the given plugins; {@code weights[i]} is the weight of {@code scorers[i]}. Each plugin call's
   * latency, measured with {@code ticker}, goes to {@code metrics}.
   */
  public ProfileRunner(String name, List<Filter> filters, List<Scorer> scorers, double[] weights, Picker picker,
      FailureLog failures, Ticker ticker, MetricsRecorder metrics) {
    if (scorers.size() != weights.length) {
      throw new IllegalArgumentException(scorers.size() + " scorers but " + weights.length + " weights");
    }
    this.name = name;
    this.filters = filters.toArray(new Filter[0]);
    this.scorers = scorers.toArray(new Scorer[0]);
    this.weights = weights.clone();
    this.picker = picker;
    this.failures = failures;
    this.ticker = ticker;
    this.filterLatency = latencies(metrics, "Filter", this.filters);
    this.scorerLatency = latencies(metrics, "Scorer", this.scorers);
    this.pickerLatency = metrics.pluginLatency("Picker", picker.typedName());
  }

  private static LongConsumer[] latencies(MetricsRecorder metrics, String extensionPoint, Plugin[] plugins) {
    LongConsumer[] latencies = new LongConsumer[plugins.length];
    for (int i = 0; i < plugins.length; i++) {
      latencies[i] = metrics.pluginLatency(extensionPoint, plugins[i].typedName());
    }
    return latencies;
  }

  /** The profile's name. */
  public String name() {
    return name;
  }

  /** Runs the profile; {@link ProfileResult#none()} when no candidate survives the filters. */
  public ProfileResult run(RequestContext context, Candidates candidates) {
    return run(context, candidates, null);
  }

  /**
   * Runs the profile, and gives {@code explained} (unless {@code null}) the record of the run before returning.
   * Recording allocates; without it the run allocates only its result.
   */
  public ProfileResult run(RequestContext context, Candidates candidates,
      Consumer<Explanation.ProfileRun> explained) {
    int n = candidates.size();
    Recorder recorder = explained == null ? null : new Recorder(candidates);
    if (n == 0) {
      return none(recorder, explained);
    }
    Scratch scratch = SCRATCH.get().ensure(n);
    SurvivorView view = scratch.view;
    int[] index = scratch.index;
    for (int i = 0; i < n; i++) {
      index[i] = i;
    }
    view.reset(candidates, index, n);
    int size = n;
    for (int f = 0; f < filters.length; f++) {
      size = applyFilter(f, context, scratch, size, recorder);
      if (size == 0) {
        return none(recorder, explained);
      }
    }
    double[] totals = scratch.totals;
    Arrays.fill(totals, 0, size, 0.0);
    for (int s = 0; s < scorers.length; s++) {
      addScores(s, context, view, scratch.raw, totals, recorder);
    }
    int picked = pick(context, view, totals, scratch.picked, scratch.bits, recorder);
    Endpoint[] targets = new Endpoint[picked];
    for (int i = 0; i < picked; i++) {
      targets[i] = view.endpoint(scratch.picked[i]);
    }
    if (recorder != null) {
      explained.accept(recorder.done(targets));
    }
    return new ProfileResult(picked == 1 ? List.of(targets[0]) : List.of(targets));
  }

  private static ProfileResult none(Recorder recorder, Consumer<Explanation.ProfileRun> explained) {
    if (recorder != null) {
      explained.accept(recorder.done(null));
    }
    return ProfileResult.none();
  }

  private int applyFilter(int f, RequestContext context, Scratch scratch, int size, Recorder recorder) {
    Filter filter = filters[f];
    SurvivorView view = scratch.view;
    BitSet keep = scratch.bits;
    keep.clear();
    keep.set(0, size);
    long start = ticker.nanos();
    long nanos;
    try {
      filter.filter(context, view, keep);
    } catch (RuntimeException e) {
      failures.failed(filter, "Filter", "keeping every candidate", e);
      keep.set(0, size);
    } finally {
      nanos = ticker.nanos() - start;
      filterLatency[f].accept(nanos);
    }
    if (recorder != null) {
      recorder.filtered(filter, view, keep, nanos);
    }
    if (keep.nextClearBit(0) >= size) {
      return size;
    }
    int[] index = scratch.index;
    int kept = 0;
    for (int i = keep.nextSetBit(0); i >= 0 && i < size; i = keep.nextSetBit(i + 1)) {
      index[kept++] = index[i];
    }
    view.resize(kept);
    return kept;
  }

  private void addScores(int s, RequestContext context, SurvivorView view, double[] raw, double[] totals,
      Recorder recorder) {
    Scorer scorer = scorers[s];
    double weight = weights[s];
    int size = view.size();
    Arrays.fill(raw, 0, size, 0.0);
    long start = ticker.nanos();
    long nanos;
    try {
      scorer.score(context, view, raw);
    } catch (RuntimeException e) {
      failures.failed(scorer, "Scorer", "scoring 0", e);
      Arrays.fill(raw, 0, size, 0.0);
    } finally {
      nanos = ticker.nanos() - start;
      scorerLatency[s].accept(nanos);
    }
    for (int i = 0; i < size; i++) {
      raw[i] = clamp(raw[i]);
      totals[i] += raw[i] * weight;
    }
    if (recorder != null) {
      recorder.scored(scorer, weight, view, raw, nanos);
    }
  }

  /** A score as used: negative, zero and NaN count as 0, above 1 as 1. */
  private static double clamp(double score) {
    return !(score > 0) ? 0 : score > 1 ? 1 : score;
  }

  private int pick(RequestContext context, SurvivorView view, double[] totals, int[] picked, BitSet seen,
      Recorder recorder) {
    int size = view.size();
    int count = 0;
    long start = ticker.nanos();
    try {
      count = picker.pick(context, view, totals, picked);
      if (!validPicks(picked, count, size, seen)) {
        failures.failed(picker, "Picker", "picking the highest score",
            new IllegalStateException("returned " + count + " picks that are not distinct indexes below " + size));
        count = 0;
      }
    } catch (RuntimeException e) {
      failures.failed(picker, "Picker", "picking the highest score", e);
      count = 0;
    } finally {
      long nanos = ticker.nanos() - start;
      pickerLatency.accept(nanos);
      if (recorder != null) {
        recorder.picked(view, totals, nanos);
      }
    }
    if (count == 0) {
      int best = 0;
      for (int i = 1; i < size; i++) {
        if (totals[i] > totals[best]) {
          best = i;
        }
      }
      picked[0] = best;
      count = 1;
    }
    return count;
  }

  private static boolean validPicks(int[] picked, int count, int size, BitSet seen) {
    if (count < 1 || count > size) {
      return false;
    }
    seen.clear();
    for (int i = 0; i < count; i++) {
      int p = picked[i];
      if (p < 0 || p >= size || seen.get(p)) {
        return false;
      }
      seen.set(p);
    }
    return true;
  }

  /** Collects one run's {@link Explanation.ProfileRun} as it goes. */
  private final class Recorder {
    private final List<String> candidates;
    private final List<Explanation.FilterStep> filtered = new ArrayList<>(filters.length);
    private final List<Explanation.ScorerStep> scored = new ArrayList<>(scorers.length);
    private Map<String, Double> totals;
    private long pickNanos;
    private String[] survivors; // named at the first score, after the filters

    Recorder(Candidates candidates) {
      String[] names = new String[candidates.size()];
      for (int i = 0; i < names.length; i++) {
        names[i] = candidates.endpoint(i).name();
      }
      this.candidates = List.of(names);
    }

    void filtered(Filter filter, SurvivorView view, BitSet keep, long nanos) {
      List<String> removed = new ArrayList<>();
      for (int i = keep.nextClearBit(0); i < view.size(); i = keep.nextClearBit(i + 1)) {
        removed.add(view.endpoint(i).name());
      }
      filtered.add(new Explanation.FilterStep(filter.typedName(), List.copyOf(removed), nanos));
    }

    void scored(Scorer scorer, double weight, SurvivorView view, double[] scores, long nanos) {
      scored.add(new Explanation.ScorerStep(scorer.typedName(), weight, byName(view, scores), nanos));
    }

    void picked(SurvivorView view, double[] totals, long nanos) {
      this.totals = byName(view, totals);
      this.pickNanos = nanos;
    }

    /** The run's record; {@code targets} is {@code null} when no candidate survived the filters. */
    Explanation.ProfileRun done(Endpoint[] targets) {
      Explanation.PickStep pick = null;
      if (targets != null) {
        String[] picked = new String[targets.length];
        for (int i = 0; i < picked.length; i++) {
          picked[i] = targets[i].name();
        }
        pick = new Explanation.PickStep(picker.typedName(), totals, List.of(picked), pickNanos);
      }
      return new Explanation.ProfileRun(name, candidates, List.copyOf(filtered), List.copyOf(scored), pick);
    }

    /** The survivors' scores by name; the survivors are named once per run, as scoring does not change them. */
    private Map<String, Double> byName(SurvivorView view, double[] values) {
      int size = view.size();
      if (survivors == null) {
        survivors = new String[size];
        for (int i = 0; i < size; i++) {
          survivors[i] = view.endpoint(i).name();
        }
      }
      return new ScoreMap(survivors, Arrays.copyOf(values, size));
    }
  }

  /** Per-thread working arrays, grown to the largest candidate count seen. */
  private static final class Scratch {
    final SurvivorView view = new SurvivorView();
    final BitSet bits = new BitSet();
    int[] index = new int[0];
    int[] picked = new int[0];
    double[] raw = new double[0];
    double[] totals = new double[0];

    Scratch ensure(int n) {
      if (index.length < n) {
        int capacity = Math.max(n, 16);
        index = new int[capacity];
        picked = new int[capacity];
        raw = new double[capacity];
        totals = new double[capacity];
      }
      return this;
    }
  }
}
