package dev.epp.metrics.scrape;

import dev.epp.metrics.scrape.internal.Numbers;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;

/**
 * A one-pass scanner of Prometheus text exposition (format 0.0.4) and OpenMetrics pages that reports only the samples
 * of wanted metric names.
 *
 * <p>The scanner works on the raw bytes and builds no object model. For each sample line it compares the metric name
 * with the wanted names and skips the rest of the line at once when it is not wanted, so families such as histograms
 * that nobody asked for cost one name comparison per line. Labels, value and timestamp are decoded only for wanted
 * samples. It understands {@code # HELP}/{@code # TYPE} and other comments, escaped label values ({@code \\},
 * {@code \"}, {@code \n}), a trailing comma in a label set, {@code NaN}, {@code +Inf}, {@code -Inf}, timestamps,
 * OpenMetrics exemplars ({@code # {...} value [ts]} after the value, ignored), {@code # EOF} (ends the page), CRLF
 * line ends and arbitrarily long lines. A last line without a newline is parsed like any other.
 *
 * <p>A line whose metric name is invalid, or a wanted sample that does not parse, is skipped and counted as malformed;
 * nothing is thrown for any input. Lines of unwanted metrics are not validated beyond their name. A sample name is
 * matched exactly: a spec for a counter must name the sample (e.g. {@code foo_total}).
 *
 * <p><b>Threading:</b> {@link #scan} is thread-safe (it keeps no state between calls); the {@link SampleLabels} it
 * passes to a sink are valid only during that call.
 */
public final class PrometheusParser {

  private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
  private static final long NEWLINES = 0x0A0A0A0A0A0A0A0AL;

  private PrometheusParser() {}

  /**
   * Scans {@code page[0, length)} and calls {@code sink} for every well-formed sample whose metric name is in
   * {@code wanted}, in page order.
   *
   * @return the number of malformed lines skipped
   * @throws IndexOutOfBoundsException if {@code length} exceeds {@code page.length}
   */
  public static int scan(byte[] page, int length, Names wanted, SampleSink sink) {
    if (length < 0 || length > page.length) {
      throw new IndexOutOfBoundsException("length " + length + " is not in [0, " + page.length + "]");
    }
    SampleLabels labels = new SampleLabels();
    int malformed = 0;
    int pos = 0;
    while (pos < length) {
      int p = pos;
      while (p < length && (page[p] == ' ' || page[p] == '\t')) {
        p++;
      }
      if (p == length) {
        break;
      }
      byte c = page[p];
      if (c == '\n' || c == '\r') {
        pos = nextLine(page, p, length);
        continue;
      }
      if (c == '#') {
        if (isEof(page, p, length)) {
          break;
        }
        pos = nextLine(page, p, length);
        continue;
      }
      int nameStart = p;
      if (!isNameStart(c)) {
        malformed++;
        pos = nextLine(page, p, length);
        continue;
      }
      p++;
      while (p < length && isNameChar(page[p])) {
        p++;
      }
      int nameEnd = p;
      if (p == length || (page[p] != '{' && page[p] != ' ' && page[p] != '\t')) {
        malformed++;
        pos = nextLine(page, p, length);
        continue;
      }
      int wantedIndex = wanted.indexOf(page, nameStart, nameEnd);
      int eol = nextLine(page, p, length);
      if (wantedIndex >= 0) {
        int end = eol;
        if (end > p && page[end - 1] == '\n') {
          end--;
        }
        if (end > p && page[end - 1] == '\r') {
          end--;
        }
        if (!parseSample(page, p, end, wantedIndex, labels, sink)) {
          malformed++;
        }
      }
      pos = eol;
    }
    return malformed;
  }

  /** Parses labels, value and optional timestamp of a wanted sample in {@code [p, end)}; false if malformed. */
  private static boolean parseSample(
      byte[] page, int p, int end, int wantedIndex, SampleLabels labels, SampleSink sink) {
    labels.clear();
    p = skipBlanks(page, p, end);
    if (p < end && page[p] == '{') {
      p = parseLabels(page, p + 1, end, labels);
      if (p < 0) {
        return false;
      }
    }
    int valueStart = skipBlanks(page, p, end);
    int valueEnd = tokenEnd(page, valueStart, end);
    if (valueEnd == valueStart) {
      return false;
    }
    double value = Numbers.parseDouble(page, valueStart, valueEnd);
    if (Double.isNaN(value) && !Numbers.isNanToken(page, valueStart, valueEnd)) {
      return false;
    }
    double timestamp = Double.NaN;
    p = skipBlanks(page, valueEnd, end);
    if (p < end && page[p] != '#') {
      int tsEnd = tokenEnd(page, p, end);
      timestamp = Numbers.parseDouble(page, p, tsEnd);
      if (!Double.isFinite(timestamp)) {
        return false;
      }
      p = skipBlanks(page, tsEnd, end);
      if (p < end && page[p] != '#') {
        return false;
      }
    }
    // Anything from '#' on is an OpenMetrics exemplar: ignored.
    sink.sample(wantedIndex, labels, value, timestamp);
    return true;
  }

  /** Parses {@code name="value",...}} starting after '{'; returns the position after '}', or -1 if malformed. */
  private static int parseLabels(byte[] page, int p, int end, SampleLabels labels) {
    while (true) {
      p = skipBlanks(page, p, end);
      if (p == end) {
        return -1;
      }
      if (page[p] == '}') {
        return p + 1;
      }
      int nameStart = p;
      if (!isLabelNameStart(page[p])) {
        return -1;
      }
      p++;
      while (p < end && isLabelNameChar(page[p])) {
        p++;
      }
      int nameEnd = p;
      p = skipBlanks(page, p, end);
      if (p == end || page[p] != '=') {
        return -1;
      }
      p = skipBlanks(page, p + 1, end);
      if (p == end || page[p] != '"') {
        return -1;
      }
      p++;
      int valueStart = p;
      boolean escaped = false;
      while (p < end && page[p] != '"') {
        if (page[p] == '\\') {
          escaped = true;
          p++;
          if (p == end || (page[p] != '\\' && page[p] != '"' && page[p] != 'n')) {
            return -1;
          }
        }
        p++;
      }
      if (p == end) {
        return -1; // unterminated value
      }
      labels.add(page, nameStart, nameEnd, valueStart, p, escaped);
      p = skipBlanks(page, p + 1, end);
      if (p == end) {
        return -1;
      }
      if (page[p] == ',') {
        p++;
      } else if (page[p] != '}') {
        return -1;
      }
    }
  }

  private static String unescape(byte[] page, int start, int end) {
    byte[] out = new byte[end - start];
    int n = 0;
    for (int i = start; i < end; i++) {
      byte b = page[i];
      if (b == '\\') {
        byte e = page[++i];
        out[n++] = e == 'n' ? (byte) '\n' : e;
      } else {
        out[n++] = b;
      }
    }
    return new String(out, 0, n, StandardCharsets.UTF_8);
  }

  private static boolean isEof(byte[] page, int p, int length) {
    if (length - p < 5 || page[p + 1] != ' ' || page[p + 2] != 'E' || page[p + 3] != 'O' || page[p + 4] != 'F') {
      return false;
    }
    int q = p + 5;
    while (q < length && (page[q] == ' ' || page[q] == '\t' || page[q] == '\r')) {
      q++;
    }
    return q == length || page[q] == '\n';
  }

  /** The position after the next '\n' at or after {@code p}, or {@code length}. */
  private static int nextLine(byte[] page, int p, int length) {
    // Eight bytes at a time: the lowest high bit of (x - 0x01..) & ~x & 0x80.. marks the first zero byte of x.
    for (; p + Long.BYTES <= length; p += Long.BYTES) {
      long x = (long) LONGS.get(page, p) ^ NEWLINES;
      long zeroBytes = (x - 0x0101010101010101L) & ~x & 0x8080808080808080L;
      if (zeroBytes != 0) {
        return p + (Long.numberOfTrailingZeros(zeroBytes) >>> 3) + 1;
      }
    }
    while (p < length) {
      if (page[p++] == '\n') {
        return p;
      }
    }
    return length;
  }

  private static int skipBlanks(byte[] page, int p, int end) {
    while (p < end && (page[p] == ' ' || page[p] == '\t')) {
      p++;
    }
    return p;
  }

  private static int tokenEnd(byte[] page, int p, int end) {
    while (p < end && page[p] != ' ' && page[p] != '\t') {
      p++;
    }
    return p;
  }

  private static boolean isNameStart(byte c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
  }

  private static boolean isNameChar(byte c) {
    return isNameStart(c) || (c >= '0' && c <= '9');
  }

  private static boolean isLabelNameStart(byte c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  }

  private static boolean isLabelNameChar(byte c) {
    return isLabelNameStart(c) || (c >= '0' && c <= '9');
  }

  /** Receives wanted samples from {@link #scan}. */
  @FunctionalInterface
  public interface SampleSink {

    /**
     * One sample.
     *
     * @param name the index of the sample's metric name in the {@link Names} passed to {@link #scan}
     * @param labels the sample's labels in page order, valid only during this call
     * @param value the sample value; may be NaN or infinite
     * @param timestamp the timestamp as written (milliseconds in format 0.0.4, seconds in OpenMetrics), or NaN if
     *     absent
     */
    void sample(int name, SampleLabels labels, double value, double timestamp);
  }

  /** The set of metric names a scan reports. Immutable and thread-safe. */
  public static final class Names {
    private final String[] names;
    private final byte[][] bytes;

    private Names(String[] names) {
      this.names = names;
      this.bytes = new byte[names.length][];
      for (int i = 0; i < names.length; i++) {
        bytes[i] = names[i].getBytes(StandardCharsets.UTF_8);
      }
    }

    /** The given names without duplicates, indexed in first-occurrence order. */
    public static Names of(Collection<String> names) {
      return new Names(new LinkedHashSet<>(names).toArray(new String[0]));
    }

    /** The given names without duplicates, indexed in first-occurrence order. */
    public static Names of(String... names) {
      return of(List.of(names));
    }

    /** How many names there are. */
    public int size() {
      return names.length;
    }

    /** The name at {@code index}. */
    public String get(int index) {
      return names[index];
    }

    /** The index of {@code name}, or -1. */
    public int indexOf(String name) {
      return Arrays.asList(names).indexOf(name);
    }

    int indexOf(byte[] page, int start, int end) {
      int length = end - start;
      for (int i = 0; i < bytes.length; i++) {
        byte[] name = bytes[i];
        if (name.length == length && Arrays.equals(name, 0, length, page, start, end)) {
          return i;
        }
      }
      return -1;
    }

    @Override
    public String toString() {
      return Arrays.toString(names);
    }
  }

  /**
   * The labels of one sample, in page order. Reused by the scanner: valid only during a {@link SampleSink} call.
   * Names and values are decoded from the page only when asked for, so labels nobody reads cost no allocation.
   */
  public static final class SampleLabels {
    private byte[] page;
    // Per label: name start, name end, value start, value end (exclusive, still escaped), in page.
    private int[] bounds = new int[4 * 16];
    private boolean[] escaped = new boolean[16];
    private String[] names = new String[16];
    private String[] values = new String[16];
    private int size;

    SampleLabels() {}

    /** How many labels the sample has. */
    public int size() {
      return size;
    }

    /** The name of label {@code i}. */
    public String name(int i) {
      java.util.Objects.checkIndex(i, size);
      String name = names[i];
      if (name == null) {
        name = new String(page, bounds[4 * i], bounds[4 * i + 1] - bounds[4 * i], StandardCharsets.US_ASCII);
        names[i] = name;
      }
      return name;
    }

    /** The (unescaped) value of label {@code i}. */
    public String value(int i) {
      java.util.Objects.checkIndex(i, size);
      String value = values[i];
      if (value == null) {
        int start = bounds[4 * i + 2];
        int end = bounds[4 * i + 3];
        value = escaped[i] ? unescape(page, start, end) : new String(page, start, end - start, StandardCharsets.UTF_8);
        values[i] = value;
      }
      return value;
    }

    /** The value of the label named {@code name}, or {@code null} if the sample has none. */
    public String get(String name) {
      for (int i = 0; i < size; i++) {
        if (nameIs(i, name)) {
          return value(i);
        }
      }
      return null;
    }

    /** Whether label {@code i} is named {@code name}, decoded as US-ASCII (as {@link #name}), without decoding it. */
    private boolean nameIs(int i, String name) {
      int start = bounds[4 * i];
      int length = bounds[4 * i + 1] - start;
      if (name.length() != length) {
        return false;
      }
      for (int k = 0; k < length; k++) {
        // Label names in the page are [A-Za-z0-9_] only, so a byte is the char it decodes to.
        if (page[start + k] != name.charAt(k)) {
          return false;
        }
      }
      return true;
    }

    void clear() {
      Arrays.fill(names, 0, size, null);
      Arrays.fill(values, 0, size, null);
      size = 0;
      page = null;
    }

    void add(byte[] page, int nameStart, int nameEnd, int valueStart, int valueEnd, boolean escapedValue) {
      if (size == names.length) {
        names = Arrays.copyOf(names, size * 2);
        values = Arrays.copyOf(values, size * 2);
        escaped = Arrays.copyOf(escaped, size * 2);
        bounds = Arrays.copyOf(bounds, 4 * size * 2);
      }
      this.page = page;
      bounds[4 * size] = nameStart;
      bounds[4 * size + 1] = nameEnd;
      bounds[4 * size + 2] = valueStart;
      bounds[4 * size + 3] = valueEnd;
      escaped[size] = escapedValue;
      size++;
    }

    @Override
    public String toString() {
      StringBuilder sb = new StringBuilder("{");
      for (int i = 0; i < size; i++) {
        sb.append(i == 0 ? "" : ",").append(name(i)).append("=\"").append(value(i)).append('"');
      }
      return sb.append('}').toString();
    }
  }
}
