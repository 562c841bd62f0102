package dev.epp.bench;

import dev.epp.api.EndpointMetrics;
import dev.epp.api.requestcontrol.ParsedRequest;
import dev.epp.metrics.scrape.EngineMapping;
import dev.epp.scheduler.plugins.parser.OpenAiParser;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The two parsers on the hot paths: an agent's OpenAI chat body ({@link Workloads#chatRequest(int)}: 1 KB to 400 KB,
 * about 100k tokens) read by {@code openai-parser}, and a realistic 51 KB vLLM {@code /metrics} page read by the vLLM
 * engine mapping. Divide the input size by the time per operation for throughput.
 *
 * <p>Run: {@code java -jar epp-bench/target/benchmarks.jar ParseBenchmark -prof gc}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ParseBenchmark {

  /** Request body size in bytes. */
  @Param({"1024", "4096", "32768", "262144", "400000"})
  public int bodyBytes;

  private final OpenAiParser parser = new OpenAiParser(OpenAiParser.TYPE);
  private final Map<String, String> headers = Map.of(":path", "/v1/chat/completions");
  private final EngineMapping vllm = EngineMapping.builtIns().get(0);
  private byte[] body;
  private byte[] page;

  /** Builds the body and loads the page. */
  @Setup
  public void setUp() {
    body = Workloads.chatRequest(bodyBytes);
    try (InputStream in = ParseBenchmark.class.getResourceAsStream("vllm-metrics.txt")) {
      page = in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    if (!vllm.name().equals("vllm")) {
      throw new IllegalStateException("expected the vllm mapping first, got " + vllm.name());
    }
  }

  /** Parses the request body: model, stream flag and the messages as prompt text. */
  @Benchmark
  public ParsedRequest openAiRequest() {
    return parser.parseRequest(body, headers);
  }

  /** Extracts queue, running, KV use, LoRA and cache config from the page (independent of {@code bodyBytes}). */
  @Benchmark
  public EndpointMetrics vllmMetricsPage() {
    return vllm.extract(page, page.length, EndpointMetrics.none(), 1L);
  }
}
