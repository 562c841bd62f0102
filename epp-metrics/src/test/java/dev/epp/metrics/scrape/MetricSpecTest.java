package dev.epp.metrics.scrape;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class MetricSpecTest {

  @Test
  void nameOnly() {
    assertEquals(new MetricSpec("vllm:num_requests_waiting", Map.of()), MetricSpec.parse("vllm:num_requests_waiting"));
  }

  @Test
  void unquotedAndQuotedValues() {
    MetricSpec spec = MetricSpec.parse("nv_trt_llm_request_metrics{request_type=waiting, model=\"tensorrt_llm\"}");
    assertEquals("nv_trt_llm_request_metrics", spec.name());
    assertEquals(Map.of("request_type", "waiting", "model", "tensorrt_llm"), spec.labels());
    assertEquals("nv_trt_llm_request_metrics{request_type=\"waiting\",model=\"tensorrt_llm\"}", spec.toString());
  }

  @Test
  void onlyEqualityMatchersAndNoDoubleUnderscoreLabels() {
    MetricSpec spec = MetricSpec.parse("foo{a=\"1\",b!=\"2\",c=~\"3.*\",d!~\"4\",__name__=\"foo\",e=5}");
    assertEquals(Map.of("a", "1", "e", "5"), spec.labels());
  }

  @Test
  void escapedQuotedValueAndEmptyBraces() {
    assertEquals(Map.of("a", "x\"y"), MetricSpec.parse("foo{a=\"x\\\"y\"}").labels());
    assertEquals(Map.of(), MetricSpec.parse("foo{}").labels());
    assertEquals(Map.of("a", "b"), MetricSpec.parse(" foo { a = b , } ").labels());
  }

  @Test
  void emptyDisablesTheMetric() {
    assertNull(MetricSpec.parse(""));
    assertNull(MetricSpec.parse("   "));
  }

  @ParameterizedTest
  @ValueSource(strings = {"1foo", "foo bar", "foo{a}", "foo{a=\"b\"", "foo{a=\"b\" c=\"d\"}", "{a=\"b\"}", "foo{=b}",
      "foo{a=\"unterminated}", "foo-bar"})
  void malformedSpecsAreRejected(String spec) {
    assertThrows(IllegalArgumentException.class, () -> MetricSpec.parse(spec));
  }
}
