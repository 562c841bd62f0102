package dev.epp.api;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A plugin's {@code parameters} object with strict, typed accessors.
 *
 * <p>Values are those of a decoded JSON/YAML document: {@link String}, {@link Number}, {@link Boolean}, {@link List}
 * and {@link Map}. A {@code null} value is treated as absent. Every accessor records the key as read; after a factory
 * returns, the framework reports any key that was never read as an unknown parameter ({@link #unreadKeys()}). A value
 * of the wrong type fails with a {@link PluginConfigException} naming the key.
 *
 * <p>Two instances are equal when they hold equal values, whatever was read from them (the values' own equality:
 * YAML's {@code 1} and {@code 1.0} differ).
 *
 * <p><b>Threading:</b> not thread-safe; used while a configuration is built.
 */
public final class Parameters {

  private final String path;
  private final Map<String, Object> values;
  private final Set<String> read = new HashSet<>();
  private final List<Parameters> children = new ArrayList<>();

  private Parameters(String path, Map<String, ?> values) {
    this.path = path;
    Map<String, Object> copy = new LinkedHashMap<>();
    values.forEach(
        (k, v) -> {
          if (v != null) {
            copy.put(k, v);
          }
        });
    this.values = Collections.unmodifiableMap(copy);
  }

  /** No parameters. */
  public static Parameters empty() {
    return new Parameters("", Map.of());
  }

  /** Parameters over a decoded JSON/YAML object; {@code null} values are dropped. */
  public static Parameters of(Map<String, ?> values) {
    return new Parameters("", values);
  }

  /** Whether there are no parameters. */
  public boolean isEmpty() {
    return values.isEmpty();
  }

  /** Whether {@code key} is present (and not {@code null}); marks the key as read. */
  public boolean contains(String key) {
    read.add(key);
    return values.containsKey(key);
  }

  /** The integer at {@code key}, or {@code defaultValue} when absent. */
  public int getInt(String key, int defaultValue) {
    long value = getLong(key, defaultValue);
    if (value < Integer.MIN_VALUE || value > Integer.MAX_VALUE) {
      throw wrongType(key, "an integer in the 32-bit range", value);
    }
    return (int) value;
  }

  /** The integer at {@code key}, or {@code defaultValue} when absent. Integral floating values such as 2.0 count. */
  public long getLong(String key, long defaultValue) {
    Object value = get(key);
    if (value == null) {
      return defaultValue;
    }
    if (value instanceof Integer || value instanceof Long || value instanceof Short || value instanceof Byte) {
      return ((Number) value).longValue();
    }
    if (value instanceof BigInteger big && big.bitLength() < 64) {
      return big.longValue();
    }
    if (value instanceof Double || value instanceof Float || value instanceof BigDecimal) {
      double d = ((Number) value).doubleValue();
      if (d == Math.rint(d) && Math.abs(d) < 0x1p53) {
        return (long) d;
      }
    }
    throw wrongType(key, "an integer", value);
  }

  /** The number at {@code key}, or {@code defaultValue} when absent. */
  public double getDouble(String key, double defaultValue) {
    Object value = get(key);
    if (value == null) {
      return defaultValue;
    }
    if (value instanceof Number number) {
      double d = number.doubleValue();
      if (Double.isFinite(d)) {
        return d;
      }
    }
    throw wrongType(key, "a finite number", value);
  }

  /** The boolean at {@code key}, or {@code defaultValue} when absent. */
  public boolean getBoolean(String key, boolean defaultValue) {
    Object value = get(key);
    if (value == null) {
      return defaultValue;
    }
    if (value instanceof Boolean b) {
      return b;
    }
    throw wrongType(key, "true or false", value);
  }

  /** The string at {@code key}, or {@code defaultValue} (which may be {@code null}) when absent. */
  public String getString(String key, String defaultValue) {
    Object value = get(key);
    if (value == null) {
      return defaultValue;
    }
    if (value instanceof String s) {
      return s;
    }
    throw wrongType(key, "a string", value);
  }

  /** The list of strings at {@code key}, or {@code defaultValue} when absent. */
  public List<String> getStringList(String key, List<String> defaultValue) {
    Object value = get(key);
    if (value == null) {
      return defaultValue;
    }
    if (value instanceof List<?> list) {
      List<String> out = new ArrayList<>(list.size());
      for (Object item : list) {
        if (!(item instanceof String s)) {
          throw wrongType(key, "a list of strings", value);
        }
        out.add(s);
      }
      return List.copyOf(out);
    }
    throw wrongType(key, "a list of strings", value);
  }

  /**
   * The Go duration string at {@code key} (such as {@code "200ms"} or {@code "1.5s"}, see {@link GoDuration}), or
   * {@code defaultValue} when absent.
   */
  public Duration getDuration(String key, Duration defaultValue) {
    Object value = get(key);
    if (value == null) {
      return defaultValue;
    }
    if (value instanceof String s) {
      try {
        return GoDuration.parse(s);
      } catch (IllegalArgumentException e) {
        throw wrongType(key, "a duration such as \"200ms\" or \"1.5s\" (" + e.getMessage() + ")", value);
      }
    }
    throw wrongType(key, "a duration string with a unit such as \"200ms\" or \"1.5s\"", value);
  }

  /** The object of strings at {@code key} (e.g. label key to value), or an empty map when absent. */
  public Map<String, String> getStringMap(String key) {
    Parameters map = getParameters(key);
    Map<String, String> out = new LinkedHashMap<>();
    for (Map.Entry<String, Object> e : map.values.entrySet()) {
      if (!(e.getValue() instanceof String s)) {
        throw map.wrongType(e.getKey(), "a string", e.getValue());
      }
      out.put(e.getKey(), s);
    }
    map.markAllRead();
    return Collections.unmodifiableMap(out);
  }

  /**
   * A configuration error about {@code key} of these parameters, naming its full path (e.g.
   * {@code matchExpressions[0].values}), for validation the typed accessors cannot express.
   *
   * @param problem what is wrong, e.g. "must not be empty"
   */
  public PluginConfigException invalid(String key, String problem) {
    return new PluginConfigException("parameter '" + qualify(key) + "' " + problem, qualify(key));
  }

  /**
   * The nested object at {@code key} as parameters whose own unread keys are reported too; empty when absent.
   */
  public Parameters getParameters(String key) {
    Object value = get(key);
    if (value == null) {
      return child(key, Map.of());
    }
    if (value instanceof Map<?, ?> map) {
      return child(key, stringKeys(key, map));
    }
    throw wrongType(key, "an object", value);
  }

  /** The list of nested objects at {@code key}; empty when absent. */
  public List<Parameters> getParametersList(String key) {
    Object value = get(key);
    if (value == null) {
      return List.of();
    }
    if (!(value instanceof List<?> list)) {
      throw wrongType(key, "a list of objects", value);
    }
    List<Parameters> out = new ArrayList<>(list.size());
    for (int i = 0; i < list.size(); i++) {
      if (!(list.get(i) instanceof Map<?, ?> map)) {
        throw wrongType(key, "a list of objects", value);
      }
      out.add(child(key + "[" + i + "]", stringKeys(key, map)));
    }
    return List.copyOf(out);
  }

  /** The raw values, unmodifiable; does not mark anything as read. */
  public Map<String, Object> asMap() {
    return values;
  }

  /**
   * Keys present but never read, including those of nested objects obtained from this instance, as dotted paths
   * (e.g. {@code engineConfigs[0].name}), in document order.
   */
  public List<String> unreadKeys() {
    List<String> unread = new ArrayList<>();
    for (String key : values.keySet()) {
      if (!read.contains(key)) {
        unread.add(qualify(key));
      }
    }
    for (Parameters child : children) {
      unread.addAll(child.unreadKeys());
    }
    return unread;
  }

  /**
   * Marks every top-level key as read. For plugins that hand their parameters to another plugin which
   * validates them.
   */
  public void markAllRead() {
    read.addAll(values.keySet());
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof Parameters parameters && values.equals(parameters.values);
  }

  @Override
  public int hashCode() {
    return values.hashCode();
  }

  @Override
  public String toString() {
    return values.toString();
  }

  private Object get(String key) {
    read.add(key);
    return values.get(key);
  }

  private Parameters child(String key, Map<String, ?> map) {
    Parameters child = new Parameters(qualify(key), map);
    children.add(child);
    return child;
  }

  private String qualify(String key) {
    return path.isEmpty() ? key : path + "." + key;
  }

  private Map<String, Object> stringKeys(String key, Map<?, ?> map) {
    Map<String, Object> out = new LinkedHashMap<>();
    for (Map.Entry<?, ?> e : map.entrySet()) {
      if (!(e.getKey() instanceof String k)) {
        throw wrongType(key, "an object with string keys", map);
      }
      out.put(k, e.getValue());
    }
    return out;
  }

  private PluginConfigException wrongType(String key, String expected, Object actual) {
    String shown = actual instanceof String ? "\"" + actual + "\"" : String.valueOf(actual);
    return new PluginConfigException(
        "parameter '" + qualify(key) + "' must be " + expected + ", got " + shown, qualify(key));
  }
}
