package dev.epp.scheduler.plugins.label;

import dev.epp.api.Endpoint;
import dev.epp.api.Parameters;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.TypedName;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.Filter;
import dev.epp.api.scheduling.Scorer;
import java.util.BitSet;

/**
 * Routes by prompt length to endpoints labelled with the range they serve: label {@code label} (default
 * {@value #DEFAULT_LABEL}) = {@code "min-max"} in tokens, e.g. {@code "0-2048"}. The prompt length is estimated as
 * prompt characters / 4, rounded up (0 when the parser does not understand the body).
 *
 * <p>Score, with {@code L} the prompt length and {@code w = max - min}: in range, {@code 0.3 + 0.7 × (0.7 / (1 +
 * w/10000) + 0.3 × (max - L)/w)} (1 when {@code w = 0}), in (0.3, 1], so tighter ranges and more headroom win; out of
 * range, {@code 0.3 / (1 + d/1000)} with {@code d} the distance to the nearest bound, in [0, 0.3); no label 0.5; an
 * unparsable label 0. With {@code enableFiltering} (default false) it is also a filter that removes endpoints whose
 * label is unparsable or whose range excludes {@code L} (endpoints without the label stay).
 */
public final class ContextLengthAware implements Filter, Scorer {

  /** The plugin type. */
  public static final String TYPE = "context-length-aware";

  /** The default label declaring an endpoint's range. */
  public static final String DEFAULT_LABEL = "llm-d.ai/context-length-range";

  private static final int CHARS_PER_TOKEN = 4;
  private static final double MAX_FALLBACK_SCORE = 0.3;

  private final TypedName typedName;
  private final String label;
  private final boolean enableFiltering;

  /** A plugin named {@code name} reading label {@code label}; filtering only when {@code enableFiltering}. */
  public ContextLengthAware(String name, String label, boolean enableFiltering) {
    this.typedName = new TypedName(TYPE, name);
    this.label = label;
    this.enableFiltering = enableFiltering;
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public void filter(RequestContext context, Candidates candidates, BitSet keep) {
    if (!enableFiltering) {
      return;
    }
    long length = contextLength(context);
    for (int i = 0; i < candidates.size(); i++) {
      String range = candidates.endpoint(i).labels().get(label);
      if (range != null) {
        long min = min(range);
        long max = max(range);
        if (min < 0 || max < min || length < min || length > max) {
          keep.clear(i);
        }
      }
    }
  }

  @Override
  public void score(RequestContext context, Candidates candidates, double[] scores) {
    long length = contextLength(context);
    for (int i = 0; i < candidates.size(); i++) {
      scores[i] = score(length, candidates.endpoint(i));
    }
  }

  private double score(long length, Endpoint endpoint) {
    String range = endpoint.labels().get(label);
    if (range == null) {
      return 0.5;
    }
    long min = min(range);
    long max = max(range);
    if (min < 0 || max < min) {
      return 0;
    }
    if (length >= min && length <= max) {
      long width = max - min;
      if (width == 0) {
        return 1;
      }
      double widthScore = 1 / (1 + width / 10000.0);
      double positionScore = (double) (max - length) / width;
      return MAX_FALLBACK_SCORE + (0.7 * widthScore + 0.3 * positionScore) * (1 - MAX_FALLBACK_SCORE);
    }
    long distance = length > max ? length - max : min - length;
    return MAX_FALLBACK_SCORE / (1 + distance / 1000.0);
  }

  /** The estimated prompt length in tokens. */
  static long contextLength(RequestContext context) {
    return ((long) context.request().body().prompt().length() + CHARS_PER_TOKEN - 1) / CHARS_PER_TOKEN;
  }

  /** The lower bound of a {@code "min-max"} label, or -1 when the label is not of that form. */
  static long min(String range) {
    int dash = range.indexOf('-');
    return dash < 0 || range.indexOf('-', dash + 1) >= 0 ? -1 : bound(range, 0, dash);
  }

  /** The upper bound of a {@code "min-max"} label, or -1 when the label is not of that form. */
  static long max(String range) {
    int dash = range.indexOf('-');
    return dash < 0 || range.indexOf('-', dash + 1) >= 0 ? -1 : bound(range, dash + 1, range.length());
  }

  /** The non-negative integer in {@code s[from, to)} (spaces around it and a leading '+' allowed), or -1. */
  private static long bound(String s, int from, int to) {
    while (from < to && s.charAt(from) == ' ') {
      from++;
    }
    while (to > from && s.charAt(to - 1) == ' ') {
      to--;
    }
    if (from < to && s.charAt(from) == '+') {
      from++;
    }
    if (from == to) {
      return -1;
    }
    long value = 0;
    for (int i = from; i < to; i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9' || value > (Long.MAX_VALUE - 9) / 10) {
        return -1;
      }
      value = value * 10 + (c - '0');
    }
    return value;
  }

  /** Creates {@link ContextLengthAware} plugins. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public ContextLengthAware create(PluginSpec spec, PluginHandle handle) {
      Parameters parameters = spec.parameters();
      String label = parameters.getString("label", DEFAULT_LABEL);
      if (label.isEmpty()) {
        throw parameters.invalid("label", "must not be empty");
      }
      return new ContextLengthAware(spec.name(), label, parameters.getBoolean("enableFiltering", false));
    }
  }
}
