package dev.epp.scheduler.internal;

import java.util.AbstractMap;
import java.util.AbstractSet;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Set;

/**
 * An unmodifiable map of endpoint names to scores over two arrays, in their order: what an explanation keeps per
 * scorer without a map entry and a boxed double per candidate. Values are boxed only when read.
 */
final class ScoreMap extends AbstractMap<String, Double> {

  private final String[] names;
  private final double[] scores;

  /** The map of {@code names[i]} to {@code scores[i]}; both arrays are kept, not copied. */
  ScoreMap(String[] names, double[] scores) {
    if (names.length != scores.length) {
      throw new IllegalArgumentException(names.length + " names but " + scores.length + " scores");
    }
    this.names = names;
    this.scores = scores;
  }

  @Override
  public int size() {
    return names.length;
  }

  @Override
  public Double get(Object key) {
    for (int i = 0; i < names.length; i++) {
      if (names[i].equals(key)) {
        return scores[i];
      }
    }
    return null;
  }

  @Override
  public boolean containsKey(Object key) {
    return get(key) != null;
  }

  @Override
  public Set<Entry<String, Double>> entrySet() {
    return new AbstractSet<>() {
      @Override
      public int size() {
        return names.length;
      }

      @Override
      public Iterator<Entry<String, Double>> iterator() {
        return new Iterator<>() {
          private int next;

          @Override
          public boolean hasNext() {
            return next < names.length;
          }

          @Override
          public Entry<String, Double> next() {
            if (next >= names.length) {
              throw new NoSuchElementException();
            }
            int i = next++;
            return new SimpleImmutableEntry<>(names[i], scores[i]);
          }
        };
      }
    };
  }
}
