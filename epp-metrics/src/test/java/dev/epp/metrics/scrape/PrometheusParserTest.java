package dev.epp.metrics.scrape;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class PrometheusParserTest {

  /** A sample as the sink saw it, rendered for comparison. */
  record Seen(String name, String labels, double value, double timestamp) {
    @Override
    public String toString() {
      return name + labels + " " + value + (Double.isNaN(timestamp) ? "" : " @" + timestamp);
    }
  }

  record Result(List<String> samples, int malformed) {}

  static Result scan(String page, String... wanted) {
    return scan(page.getBytes(StandardCharsets.UTF_8), wanted);
  }

  static Result scan(byte[] page, String... wanted) {
    PrometheusParser.Names names = PrometheusParser.Names.of(wanted);
    List<String> seen = new ArrayList<>();
    int malformed = PrometheusParser.scan(page, page.length, names,
        (name, labels, value, ts) -> seen.add(new Seen(names.get(name), labels.toString(), value, ts).toString()));
    return new Result(seen, malformed);
  }

  static Stream<Arguments> cases() {
    return Stream.of(
        Arguments.of("plain sample", "foo 1\n", List.of("foo{} 1.0"), 0),
        Arguments.of("labels", "foo{a=\"x\",b=\"y\"} 2.5\n", List.of("foo{a=\"x\",b=\"y\"} 2.5"), 0),
        Arguments.of("HELP and TYPE lines are skipped",
            "# HELP foo Some help with \\\\ and \\n.\n# TYPE foo gauge\nfoo 3\n", List.of("foo{} 3.0"), 0),
        Arguments.of("escaped label values",
            "foo{path=\"C:\\\\dir\",q=\"say \\\"hi\\\"\",m=\"a\\nb\"} 1\n",
            List.of("foo{path=\"C:\\dir\",q=\"say \"hi\"\",m=\"a\nb\"} 1.0"), 0),
        Arguments.of("trailing comma in label set (simpleclient)", "foo{a=\"x\",} 1\n", List.of("foo{a=\"x\"} 1.0"), 0),
        Arguments.of("empty label set", "foo{} 4\n", List.of("foo{} 4.0"), 0),
        Arguments.of("NaN", "foo NaN\n", List.of("foo{} NaN"), 0),
        Arguments.of("+Inf and -Inf", "foo{s=\"p\"} +Inf\nfoo{s=\"n\"} -Inf\n",
            List.of("foo{s=\"p\"} Infinity", "foo{s=\"n\"} -Infinity"), 0),
        Arguments.of("Go and Python float styles", "foo 1.7537953269352946e+09\nfoo 9.75010481363281e-06\nfoo 2.0\n",
            List.of("foo{} 1.7537953269352946E9", "foo{} 9.75010481363281E-6", "foo{} 2.0"), 0),
        Arguments.of("timestamp in ms", "foo 1 1395066363000\n", List.of("foo{} 1.0 @1.395066363E12"), 0),
        Arguments.of("negative timestamp", "foo 1 -1000\n", List.of("foo{} 1.0 @-1000.0"), 0),
        Arguments.of("OpenMetrics exemplar after the value",
            "foo_bucket{le=\"0.01\"} 3 # {trace_id=\"abc\"} 0.0067 1520879607.789\n",
            List.of("foo_bucket{le=\"0.01\"} 3.0"), 0),
        Arguments.of("exemplar after a timestamp", "foo 3 1520879607.5 # {a=\"b\"} 1\n",
            List.of("foo{} 3.0 @1.5208796075E9"), 0),
        Arguments.of("# EOF ends the page", "foo 1\n# EOF\nfoo 2\n", List.of("foo{} 1.0"), 0),
        Arguments.of("CRLF line ends", "# TYPE foo gauge\r\nfoo{a=\"x\"} 5\r\nfoo 6\r\n",
            List.of("foo{a=\"x\"} 5.0", "foo{} 6.0"), 0),
        Arguments.of("last line without newline is parsed", "foo 1\nfoo 7", List.of("foo{} 1.0", "foo{} 7.0"), 0),
        Arguments.of("page cut off mid-labels", "foo 1\nfoo{a=\"tru", List.of("foo{} 1.0"), 1),
        Arguments.of("page cut off after the name", "foo 1\nfoo", List.of("foo{} 1.0"), 1),
        Arguments.of("unwanted families cost only a name check", "bar{a=\"x\"} 1\nbaz_bucket{le=\"1\"} 2\nfoo 3\n",
            List.of("foo{} 3.0"), 0),
        Arguments.of("prefix of a wanted name is not the name", "foo_total 1\nfo 2\nfoo 3\n", List.of("foo{} 3.0"), 0),
        Arguments.of("colons in names (vLLM)", "vllm:num_requests_waiting{model_name=\"m\"} 0.0\n",
            List.of("vllm:num_requests_waiting{model_name=\"m\"} 0.0"), 0),
        Arguments.of("blank lines, tabs and spaces", "\n\n  foo\t{ a = \"x\" , }\t 8  \n\n", List.of("foo{a=\"x\"} 8.0"),
            0),
        Arguments.of("malformed: invalid name start", "1foo 1\n{a=\"b\"} 1\nfoo 2\n", List.of("foo{} 2.0"), 2),
        Arguments.of("malformed: bad value", "foo abc\nfoo 1.2.3\nfoo 1e\nfoo\t\nfoo 9\n", List.of("foo{} 9.0"), 4),
        Arguments.of("malformed: unterminated label value", "foo{a=\"x} 1\nfoo 2\n", List.of("foo{} 2.0"), 1),
        Arguments.of("malformed: unknown escape", "foo{a=\"\\t\"} 1\nfoo 2\n", List.of("foo{} 2.0"), 1),
        Arguments.of("malformed: unquoted label value", "foo{a=x} 1\nfoo 2\n", List.of("foo{} 2.0"), 1),
        Arguments.of("malformed: junk after timestamp", "foo 1 2 3\nfoo 2\n", List.of("foo{} 2.0"), 1),
        Arguments.of("malformed: infinite timestamp", "foo 1 +Inf\nfoo 2\n", List.of("foo{} 2.0"), 1),
        Arguments.of("unwanted lines are not validated beyond the name", "bar{{{ nonsense\nfoo 1\n",
            List.of("foo{} 1.0"), 0),
        Arguments.of("UTF-8 label values", "foo{m=\"Qwen/Qwen2.5-\u00fcber\"} 1\n",
            List.of("foo{m=\"Qwen/Qwen2.5-\u00fcber\"} 1.0"), 0));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void scansEdgeCases(String description, String page, List<String> expected, int malformed) {
    Result result = scan(page, "foo", "foo_bucket", "vllm:num_requests_waiting");
    assertEquals(expected, result.samples());
    assertEquals(malformed, result.malformed(), "malformed lines");
  }

  @Test
  void veryLongLinesAreHandled() {
    String longValue = "x".repeat(1_000_000);
    String page = "bar{a=\"" + longValue + "\"} 1\nfoo{a=\"" + longValue + "\"} 2\nfoo 3\n";
    Result result = scan(page, "foo");
    assertEquals(2, result.samples().size());
    assertTrue(result.samples().get(0).length() > 1_000_000);
    assertEquals("foo{} 3.0", result.samples().get(1));
  }

  /** Skipped lines of every length at every alignment, including bytes that differ from '\n' in one bit. */
  @Test
  void skippedLinesEndAtTheirNewlineWhateverTheirLengthAndAlignment() {
    StringBuilder page = new StringBuilder();
    int expected = 0;
    for (int pad = 0; pad < 8; pad++) {
      for (int len = 0; len < 40; len++) {
        page.append("x".repeat(pad)).append(pad == 0 ? "" : "\n");
        page.append("bar{a=\"").append("\u000b\u008a*".repeat(len / 3)).append("\"} 1\n");
        page.append("foo ").append(expected++).append('\n');
      }
    }
    Result result = scan(page.toString(), "foo");
    assertEquals(7 * 40, result.malformed(), "only the padding lines, which have no value");
    assertEquals(expected, result.samples().size());
    for (int i = 0; i < expected; i++) {
      assertEquals("foo{} " + (double) i, result.samples().get(i));
    }
  }

  @Test
  void lengthBoundsTheScan() {
    byte[] page = "foo 1\nfoo 2\n".getBytes(StandardCharsets.US_ASCII);
    List<Double> values = new ArrayList<>();
    PrometheusParser.scan(page, 6, PrometheusParser.Names.of("foo"), (n, l, v, t) -> values.add(v));
    assertEquals(List.of(1.0), values);
  }

  @Test
  void realVllmPageYieldsOnlyTheWantedSamples() throws IOException {
    byte[] page = resource("vllm-metrics.txt");
    assertTrue(page.length > 40_000, "a realistic vLLM page is tens of KB");
    Result result = scan(page, "vllm:num_requests_waiting", "vllm:lora_requests_info", "vllm:cache_config_info");
    assertEquals(0, result.malformed());
    assertEquals(5, result.samples().size(), result.samples().toString());
    assertTrue(result.samples().get(0).startsWith("vllm:num_requests_waiting{engine=\"0\",model_name=\"meta-llama/"));
  }

  @Test
  void labelsDecodedOnDemandAgreeWithAReferenceDecodingOnRealPages() throws IOException {
    java.util.regex.Pattern sample = java.util.regex.Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)\\{(.*)\\}\\s");
    java.util.regex.Pattern label = java.util.regex.Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\"");
    for (String file : List.of("vllm-metrics.txt", "sglang-metrics.txt", "triton-metrics.txt")) {
      byte[] page = resource(file);
      List<String> names = new ArrayList<>();
      List<List<String>> expected = new ArrayList<>();
      for (String line : new String(page, StandardCharsets.UTF_8).split("\n")) {
        java.util.regex.Matcher m = sample.matcher(line);
        if (line.startsWith("#") || !m.find()) {
          continue;
        }
        if (!names.contains(m.group(1))) {
          names.add(m.group(1));
        }
        List<String> pairs = new ArrayList<>();
        java.util.regex.Matcher l = label.matcher(m.group(2));
        while (l.find()) {
          pairs.add(l.group(1) + "=" + l.group(2).replace("\\n", "\n").replace("\\\"", "\"").replace("\\\\", "\\"));
        }
        expected.add(pairs);
      }
      assertTrue(expected.size() > 10, file);
      PrometheusParser.Names wanted = PrometheusParser.Names.of(names);
      List<List<String>> seen = new ArrayList<>();
      PrometheusParser.scan(page, page.length, wanted, (n, labels, v, t) -> {
        if (labels.size() == 0) {
          return;
        }
        List<String> pairs = new ArrayList<>();
        for (int i = labels.size() - 1; i >= 0; i--) { // values before names, in reverse: any order must work
          String value = labels.value(i);
          pairs.add(0, labels.name(i) + "=" + value);
          assertEquals(value, labels.get(labels.name(i)));
          assertEquals(value, labels.value(i));
        }
        assertEquals(null, labels.get("no_such_label"));
        seen.add(pairs);
      });
      assertEquals(expected, seen, file);
    }
  }

  @Test
  void labelLookupDecodesEscapesAndUtf8AndPrefersTheFirstOfDuplicateNames() {
    byte[] page = "foo{a=\"x\\\"y\\\\z\\n\",ab=\"\u00e9t\u00e9\",a=\"second\",b=\"\"} 1\n".getBytes(StandardCharsets.UTF_8);
    List<String> seen = new ArrayList<>();
    PrometheusParser.scan(page, page.length, PrometheusParser.Names.of("foo"), (n, labels, v, t) -> {
      seen.add(labels.get("ab"));
      seen.add(labels.get("a"));
      seen.add(labels.get("b"));
      seen.add(String.valueOf(labels.get("abc")));
      seen.add(String.valueOf(labels.get("")));
      seen.add(labels.toString());
    });
    assertEquals(List.of("\u00e9t\u00e9", "x\"y\\z\n", "", "null", "null",
        "{a=\"x\"y\\z\n\",ab=\"\u00e9t\u00e9\",a=\"second\",b=\"\"}"), seen);
  }

  @Test
  void realPagesHaveNoMalformedLines() throws IOException {
    for (String name : List.of("vllm-metrics.txt", "sglang-metrics.txt", "triton-metrics.txt")) {
      byte[] page = resource(name);
      // Wanting every name forces full decoding of every sample line.
      List<String> names = new ArrayList<>();
      for (String line : new String(page, StandardCharsets.UTF_8).split("\n")) {
        if (!line.startsWith("#")) {
          names.add(line.substring(0, line.indexOf(line.contains("{") ? '{' : ' ')));
        }
      }
      Result result = scan(page, names.toArray(new String[0]));
      assertEquals(0, result.malformed(), name);
      assertEquals(names.size(), result.samples().size(), name);
    }
  }

  /**
   * Random mutations of real pages (flipped, inserted, deleted and truncated bytes, spliced junk) never make the
   * scanner throw, and what it retains stays bounded by the page: only wanted samples reach the sink and the scan
   * itself keeps nothing between lines.
   */
  @Test
  void fuzzedPagesNeverThrow() throws IOException {
    List<byte[]> seeds = List.of(resource("vllm-metrics.txt"), resource("sglang-metrics.txt"),
        resource("triton-metrics.txt"));
    PrometheusParser.Names names = PrometheusParser.Names.of("vllm:num_requests_waiting", "vllm:lora_requests_info",
        "vllm:cache_config_info", "sglang:num_queue_reqs", "nv_trt_llm_request_metrics",
        "vllm:time_to_first_token_seconds_bucket");
    byte[] alphabet = "{}\"\\=,# \n\r\t.eE+-0123456789abcnNaIfx:_".getBytes(StandardCharsets.US_ASCII);
    Random random = new Random(20240601);
    long[] retainedChars = new long[1];
    for (int iteration = 0; iteration < 1500; iteration++) {
      byte[] page = seeds.get(iteration % seeds.size()).clone();
      int mutations = 1 + random.nextInt(64);
      for (int m = 0; m < mutations; m++) {
        int at = random.nextInt(page.length);
        switch (random.nextInt(5)) {
          case 0 -> page[at] = alphabet[random.nextInt(alphabet.length)];
          case 1 -> page[at] = (byte) random.nextInt(256);
          case 2 -> page = splice(page, at, random.nextInt(16), randomBytes(random, alphabet, random.nextInt(32)));
          case 3 -> page = splice(page, at, random.nextInt(64), new byte[0]);
          default -> page = java.util.Arrays.copyOf(page, Math.max(1, at));
        }
        if (page.length == 0) {
          page = new byte[] {'\n'};
        }
      }
      int length = random.nextInt(page.length + 1);
      retainedChars[0] = 0;
      int malformed = PrometheusParser.scan(page, length, names, (n, labels, v, t) -> {
        for (int i = 0; i < labels.size(); i++) {
          retainedChars[0] += labels.name(i).length() + labels.value(i).length();
        }
      });
      assertTrue(malformed >= 0 && malformed <= length, "malformed count is per line");
      assertTrue(retainedChars[0] <= length, "decoded labels never exceed the page");
    }
  }

  @Test
  void randomBytesNeverThrow() {
    Random random = new Random(1);
    byte[] junk = new byte[1 << 20];
    random.nextBytes(junk);
    int malformed = PrometheusParser.scan(junk, junk.length, PrometheusParser.Names.of("foo"), (n, l, v, t) -> {});
    assertTrue(malformed > 0);
  }

  private static byte[] splice(byte[] page, int at, int remove, byte[] insert) {
    int end = Math.min(page.length, at + remove);
    byte[] out = new byte[page.length - (end - at) + insert.length];
    System.arraycopy(page, 0, out, 0, at);
    System.arraycopy(insert, 0, out, at, insert.length);
    System.arraycopy(page, end, out, at + insert.length, page.length - end);
    return out;
  }

  private static byte[] randomBytes(Random random, byte[] alphabet, int n) {
    byte[] out = new byte[n];
    for (int i = 0; i < n; i++) {
      out[i] = alphabet[random.nextInt(alphabet.length)];
    }
    return out;
  }

  static byte[] resource(String name) throws IOException {
    try (InputStream in = PrometheusParserTest.class.getResourceAsStream(name)) {
      if (in == null) {
        throw new IOException("missing test resource " + name);
      }
      return in.readAllBytes();
    }
  }
}
