package dev.epp.metrics.export.internal;

import io.prometheus.client.Collector;
import io.prometheus.client.Collector.MetricFamilySamples;
import io.prometheus.client.Collector.MetricFamilySamples.Sample;
import java.io.IOException;
import java.io.Writer;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes metric families in the Prometheus text format 0.0.4 exactly as the Go client ({@code expfmt}) does, so that
 * the EPP's {@code /metrics} page is line-for-line what the Go EPP serves: families sorted by name, series sorted by
 * label values, no trailing comma in label sets, no braces without labels, Go float formatting ({@code 1},
 * {@code 0.3}, {@code 1.048576e+06}), histogram series as buckets, {@code _sum}, {@code _count}, info metrics as
 * gauges named with their {@code _info} suffix, and no {@code _created} series (which the Java client adds and the Go client does not expose). Thread-safe (stateless).
 */
public final class GoTextFormat {

  /** The content type of format 0.0.4. */
  public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

  private GoTextFormat() {}

  /** Writes {@code families}. */
  public static void write(Writer out, List<MetricFamilySamples> families) throws IOException {
    List<MetricFamilySamples> sorted = new ArrayList<>(families);
    sorted.sort(Comparator.comparing(GoTextFormat::familyName));
    Map<String, String> bounds = new HashMap<>(); // le and quantile values, formatted once per page
    for (MetricFamilySamples family : sorted) {
      List<Ordered> samples = new ArrayList<>(family.samples.size());
      for (Sample sample : family.samples) {
        if (!sample.name.endsWith("_created")) {
          samples.add(new Ordered(seriesKey(sample), suffixRank(family, sample), sample));
        }
      }
      if (samples.isEmpty()) {
        continue; // as Go: a family without series is not written
      }
      samples.sort(ORDER);
      String name = familyName(family);
      out.write("# HELP ");
      out.write(name);
      out.write(' ');
      writeEscaped(out, family.help, false);
      out.write("\n# TYPE ");
      out.write(name);
      out.write(' ');
      out.write(typeName(family.type));
      out.write('\n');
      for (Ordered ordered : samples) {
        Sample sample = ordered.sample;
        out.write(sample.name);
        if (!sample.labelNames.isEmpty()) {
          out.write('{');
          for (int i = 0; i < sample.labelNames.size(); i++) {
            if (i > 0) {
              out.write(',');
            }
            String label = sample.labelNames.get(i);
            String value = sample.labelValues.get(i);
            out.write(label);
            out.write("=\"");
            if (label.equals("le") || label.equals("quantile")) {
              value = bounds.computeIfAbsent(value,
                  v -> formatFloat(Double.parseDouble(v.replace("Inf", "Infinity"))));
            }
            writeEscaped(out, value, true);
            out.write('"');
          }
          out.write('}');
        }
        out.write(' ');
        out.write(formatFloat(sample.value));
        if (sample.timestampMs != null) {
          out.write(' ');
          out.write(Long.toString(sample.timestampMs));
        }
        out.write('\n');
      }
    }
  }

  /** A sample with its sort keys, computed once rather than at every comparison. */
  private record Ordered(String seriesKey, int suffixRank, Sample sample) {}

  /** Series by label values, then Go's order within a series; the sort is stable, so buckets keep theirs. */
  private static final Comparator<Ordered> ORDER =
      Comparator.comparing(Ordered::seriesKey).thenComparingInt(Ordered::suffixRank);

  /**
   * Formats like Go's {@code strconv.FormatFloat(v, 'g', -1, 64)}: the shortest decimal that reads back as
   * {@code v} (as far as {@link Double#toString(double)} finds it), in exponent form when the decimal exponent is
   * below -4 or at least 6: {@code 4096}, {@code 0.3}, {@code 0.0001}, {@code 1e-05}, {@code 1.048576e+06}.
   */
  public static String formatFloat(double v) {
    if (Double.isNaN(v)) {
      return "NaN";
    }
    if (Double.isInfinite(v)) {
      return v > 0 ? "+Inf" : "-Inf";
    }
    if (v == 0) {
      return (1 / v) < 0 ? "-0" : "0";
    }
    if (v == Math.rint(v) && Math.abs(v) < 1e6) {
      return Long.toString((long) v);
    }
    BigDecimal d = new BigDecimal(Double.toString(v)).stripTrailingZeros();
    String digits = d.unscaledValue().abs().toString();
    int exponent = digits.length() - d.scale() - 1;
    StringBuilder sb = new StringBuilder(24);
    if (v < 0) {
      sb.append('-');
    }
    if (exponent < -4 || exponent >= 6) {
      sb.append(digits.charAt(0));
      if (digits.length() > 1) {
        sb.append('.').append(digits, 1, digits.length());
      }
      sb.append('e').append(exponent < 0 ? '-' : '+');
      int abs = Math.abs(exponent);
      if (abs < 10) {
        sb.append('0');
      }
      sb.append(abs);
    } else if (exponent < 0) {
      sb.append("0.");
      sb.append("0".repeat(-exponent - 1)).append(digits);
    } else if (digits.length() <= exponent + 1) {
      sb.append(digits).append("0".repeat(exponent + 1 - digits.length()));
    } else {
      sb.append(digits, 0, exponent + 1).append('.').append(digits, exponent + 1, digits.length());
    }
    return sb.toString();
  }

  /**
   * The name on the HELP and TYPE lines, which is the samples' name: the Java client strips {@code _total} from
   * counter family names and {@code _info} from info family names ({@code jvm} for the {@code jvm_info} sample).
   */
  private static String familyName(MetricFamilySamples family) {
    return switch (family.type) {
      case COUNTER -> family.name + "_total";
      case INFO -> family.name + "_info";
      default -> family.name;
    };
  }

  /** Format 0.0.4 has no info or state-set type: both are gauges, as the Go and Java clients write them. */
  private static String typeName(Collector.Type type) {
    return switch (type) {
      case COUNTER -> "counter";
      case GAUGE, INFO, STATE_SET -> "gauge";
      case HISTOGRAM, GAUGE_HISTOGRAM -> "histogram";
      case SUMMARY -> "summary";
      case UNKNOWN -> "untyped";
    };
  }

  /** Label values except {@code le}/{@code quantile}, so a histogram series stays together. */
  private static String seriesKey(Sample sample) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < sample.labelNames.size(); i++) {
      String label = sample.labelNames.get(i);
      if (!label.equals("le") && !label.equals("quantile")) {
        sb.append(sample.labelValues.get(i)).append('\u0000');
      }
    }
    return sb.toString();
  }

  /** Go's order within a series: buckets (in their order), then _sum, then _count. */
  private static int suffixRank(MetricFamilySamples family, Sample sample) {
    String suffix = sample.name.substring(Math.min(family.name.length(), sample.name.length()));
    return switch (suffix) {
      case "_sum" -> 1;
      case "_count" -> 2;
      default -> 0;
    };
  }

  private static void writeEscaped(Writer out, String s, boolean quotes) throws IOException {
    if (!needsEscaping(s, quotes)) {
      out.write(s);
      return;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '\\' -> out.write("\\\\");
        case '\n' -> out.write("\\n");
        case '"' -> out.write(quotes ? "\\\"" : "\"");
        default -> out.write(c);
      }
    }
  }

  private static boolean needsEscaping(String s, boolean quotes) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\\' || c == '\n' || (quotes && c == '"')) {
        return true;
      }
    }
    return false;
  }
}
