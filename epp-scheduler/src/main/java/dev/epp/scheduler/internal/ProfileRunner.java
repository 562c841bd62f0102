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
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
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
    int n = candidates.size();
    if (n == 0) {
      return ProfileResult.none();
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
      size = applyFilter(f, context, scratch, size);
      if (size == 0) {
        return ProfileResult.none();
      }
    }
    double[] totals = scratch.totals;
    Arrays.fill(totals, 0, size, 0.0);
    for (int s = 0; s < scorers.length; s++) {
      addScores(s, context, view, scratch.raw, totals);
    }
    int picked = pick(context, view, totals, scratch.picked, scratch.bits);
    if (picked == 1) {
      return new ProfileResult(List.of(view.endpoint(scratch.picked[0])));
    }
    Endpoint[] targets = new Endpoint[picked];
    for (int i = 0; i < picked; i++) {
      targets[i] = view.endpoint(scratch.picked[i]);
    }
    return new ProfileResult(List.of(targets));
  }

  private int applyFilter(int f, RequestContext context, Scratch scratch, int size) {
    Filter filter = filters[f];
    SurvivorView view = scratch.view;
    BitSet keep = scratch.bits;
    keep.clear();
    keep.set(0, size);
    long start = ticker.nanos();
    try {
      filter.filter(context, view, keep);
    } catch (RuntimeException e) {
      failures.failed(filter, "Filter", "keeping every candidate", e);
      return size;
    } finally {
      filterLatency[f].accept(ticker.nanos() - start);
    }
    int[] index = scratch.index;
    int kept = 0;
    for (int i = keep.nextSetBit(0); i >= 0 && i < size; i = keep.nextSetBit(i + 1)) {
      index[kept++] = index[i];
    }
    view.resize(kept);
    return kept;
  }

  private void addScores(int s, RequestContext context, SurvivorView view, double[] raw, double[] totals) {
    Scorer scorer = scorers[s];
    double weight = weights[s];
    int size = view.size();
    Arrays.fill(raw, 0, size, 0.0);
    long start = ticker.nanos();
    try {
      scorer.score(context, view, raw);
    } catch (RuntimeException e) {
      failures.failed(scorer, "Scorer", "scoring 0", e);
      return;
    } finally {
      scorerLatency[s].accept(ticker.nanos() - start);
    }
    for (int i = 0; i < size; i++) {
      double score = raw[i];
      if (!(score > 0)) {
        continue; // negative, zero and NaN count as 0
      }
      totals[i] += (score > 1 ? 1 : score) * weight;
    }
  }

  private int pick(RequestContext context, SurvivorView view, double[] totals, int[] picked, BitSet seen) {
    int size = view.size();
    long start = ticker.nanos();
    try {
      int count = picker.pick(context, view, totals, picked);
      if (validPicks(picked, count, size, seen)) {
        return count;
      }
      failures.failed(picker, "Picker", "picking the highest score",
          new IllegalStateException("returned " + count + " picks that are not distinct indexes below " + size));
    } catch (RuntimeException e) {
      failures.failed(picker, "Picker", "picking the highest score", e);
    } finally {
      pickerLatency.accept(ticker.nanos() - start);
    }
    int best = 0;
    for (int i = 1; i < size; i++) {
      if (totals[i] > totals[best]) {
        best = i;
      }
    }
    picked[0] = best;
    return 1;
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
