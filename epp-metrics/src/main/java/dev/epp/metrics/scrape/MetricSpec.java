package dev.epp.metrics.scrape;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Which series of a model server's page a metric is read from: a metric name and the label values a series must
 * have, written as a PromQL instant-vector selector {@code metric_name{label="value",...}} as in the Go EPP's
 * {@code engineConfigs}.
 *
 * @param name the metric (sample) name
 * @param labels labels a series must carry with exactly these values; unmodifiable, in spec order
 */
public record MetricSpec(String name, Map<String, String> labels) {

  private static final Pattern NAME = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
  private static final Pattern MATCHER =
      Pattern.compile("\\s*([a-zA-Z_][a-zA-Z0-9_]*)\\s*(=~|!=|!~|=)\\s*(\"(?:[^\"\\\\]|\\\\.)*\"|[^\",}\\s]+)\\s*");

  /** Validates and copies the components. */
  public MetricSpec {
    Objects.requireNonNull(name, "name");
    if (!NAME.matcher(name).matches()) {
      throw new IllegalArgumentException("invalid metric name '" + name + "'");
    }
    labels = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(labels));
  }

  /**
   * Parses a spec. Label values may be quoted or bare ({@code {request_type=waiting}}); only {@code =} matchers are
   * kept (as the Go EPP does, other matcher kinds are accepted and ignored), and labels starting with {@code __} are
   * ignored.
   *
   * @return the spec, or {@code null} for an empty or blank string, which disables the metric
   * @throws IllegalArgumentException if {@code spec} is not a valid selector; the message says what is wrong
   */
  public static MetricSpec parse(String spec) {
    String s = spec.strip();
    if (s.isEmpty()) {
      return null;
    }
    int brace = s.indexOf('{');
    String name = (brace < 0 ? s : s.substring(0, brace)).strip();
    if (!NAME.matcher(name).matches()) {
      throw new IllegalArgumentException("invalid metric name in spec '" + spec + "'");
    }
    Map<String, String> labels = new LinkedHashMap<>();
    if (brace >= 0) {
      if (!s.endsWith("}")) {
        throw new IllegalArgumentException("spec '" + spec + "' does not end with '}'");
      }
      String body = s.substring(brace + 1, s.length() - 1);
      Matcher m = MATCHER.matcher(body);
      int p = 0;
      while (p < body.length()) {
        if (!m.find(p) || m.start() != p) {
          throw new IllegalArgumentException("invalid label matcher in spec '" + spec + "' at '" + body.substring(p)
              + "'");
        }
        String label = m.group(1);
        if (m.group(2).equals("=") && !label.startsWith("__")) {
          labels.put(label, unquote(m.group(3)));
        }
        p = m.end();
        if (p < body.length()) {
          if (body.charAt(p) != ',') {
            throw new IllegalArgumentException("expected ',' in spec '" + spec + "' at '" + body.substring(p) + "'");
          }
          p++;
          if (body.substring(p).isBlank()) {
            break; // trailing comma
          }
        }
      }
    }
    return new MetricSpec(name, labels);
  }

  /** Whether a series with {@code sampleLabels} is selected by this spec. */
  public boolean matches(PrometheusParser.SampleLabels sampleLabels) {
    for (Map.Entry<String, String> e : labels.entrySet()) {
      if (!e.getValue().equals(sampleLabels.get(e.getKey()))) {
        return false;
      }
    }
    return true;
  }

  /** The spec in selector syntax with quoted values, e.g. {@code foo{a="b"}}. */
  @Override
  public String toString() {
    if (labels.isEmpty()) {
      return name;
    }
    StringBuilder sb = new StringBuilder(name).append('{');
    labels.forEach((k, v) -> sb.append(sb.charAt(sb.length() - 1) == '{' ? "" : ",").append(k).append("=\"")
        .append(v.replace("\\", "\\\\").replace("\"", "\\\"")).append('"'));
    return sb.append('}').toString();
  }

  private static String unquote(String value) {
    if (!value.startsWith("\"")) {
      return value;
    }
    StringBuilder sb = new StringBuilder(value.length());
    for (int i = 1; i < value.length() - 1; i++) {
      char c = value.charAt(i);
      if (c == '\\') {
        char e = value.charAt(++i);
        sb.append(e == 'n' ? '\n' : e == 't' ? '\t' : e);
      } else {
        sb.append(c);
      }
    }
    return sb.toString();
  }
}
