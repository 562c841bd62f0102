package dev.epp.metrics.export.internal;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Bounds the label values that clients choose: the requested model ({@code model_name}, from the request body) and
 * the target model ({@code target_model_name}, {@code target_model}, which the {@code x-gateway-model-name-rewrite}
 * header can set). A value longer than {@value #MAX_LENGTH} characters is cut to that length, and only the first
 * {@value #MAX_PAIRS} distinct (model, target) pairs are kept: a later pair is counted as
 * ({@value #OVERFLOW}, {@value #OVERFLOW}). A label used alone counts as the pair of its value with itself, the pair
 * of every request whose model is not rewritten. So each label has at most {@value #MAX_PAIRS} values besides
 * {@value #OVERFLOW}, and each family that carries them at most {@value #MAX_PAIRS} + 1 series per value of its
 * other labels, however many names clients send.
 *
 * <p><b>Threading:</b> thread-safe; looking up a pair already kept takes two hash lookups and allocates nothing.
 */
public final class ModelLabels {

  /** The most (model, target) pairs kept. */
  public static final int MAX_PAIRS = 1000;

  /** The most characters of a label value kept. */
  public static final int MAX_LENGTH = 128;

  /** Both label values of every pair past the first {@value #MAX_PAIRS}. */
  public static final String OVERFLOW = "other";

  /** The label values to record a request under. */
  public record Pair(String model, String target) {}

  private static final Pair OVERFLOW_PAIR = new Pair(OVERFLOW, OVERFLOW);

  /** Kept pairs by model then target, keyed by the cut values. */
  private final Map<String, Map<String, Pair>> pairs = new ConcurrentHashMap<>();
  private final AtomicInteger kept = new AtomicInteger();

  /** The labels for a request for {@code model} served as {@code target}. */
  public Pair pair(String model, String target) {
    Pair pair = find(model, target);
    return pair != null ? pair : keep(cut(model), cut(target));
  }

  /** The {@code model_name} label for {@code model} used alone. */
  public String model(String model) {
    return pair(model, model).model();
  }

  /** The {@code target_model_name} label for {@code target} used alone. */
  public String target(String target) {
    return pair(target, target).target();
  }

  private Pair find(String model, String target) {
    Map<String, Pair> targets = pairs.get(model);
    return targets == null ? null : targets.get(target);
  }

  private Pair keep(String model, String target) {
    Pair known = find(model, target);
    if (known != null) {
      return known;
    }
    if (kept.get() >= MAX_PAIRS) {
      return OVERFLOW_PAIR; // checked first so that the count cannot grow past the limit by more than the racers
    }
    Pair pair = pairs.computeIfAbsent(model, m -> new ConcurrentHashMap<>())
        .computeIfAbsent(target, t -> kept.getAndIncrement() < MAX_PAIRS ? new Pair(model, t) : null);
    return pair != null ? pair : OVERFLOW_PAIR;
  }

  /** {@code value}'s first {@value #MAX_LENGTH} characters, fewer rather than split a surrogate pair. */
  static String cut(String value) {
    if (value.length() <= MAX_LENGTH) {
      return value;
    }
    int end = Character.isHighSurrogate(value.charAt(MAX_LENGTH - 1)) ? MAX_LENGTH - 1 : MAX_LENGTH;
    return value.substring(0, end);
  }
}
