package dev.epp.bench;

import dev.epp.scheduler.Director;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.scheduler.Routing;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Response streaming: the director's work per server-sent-event chunk (usage parsing and response hooks) over a
 * 100-chunk completion stream whose last chunk carries the usage. The score is per chunk.
 *
 * <p>Run: {@code java -jar epp-bench/target/benchmarks.jar SseBenchmark -prof gc}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class SseBenchmark {

  private static final int CHUNKS = 100;

  private Director director;
  private Routing routing;
  private byte[] tokenChunk;
  private byte[] lastChunk;

  /** Routes one streaming request and receives its response headers. */
  @Setup
  public void setUp() {
    director = Director.builder(EndpointPickerConfig.defaults(), Workloads.pool(100)).build();
    routing = director.route(Map.of(":path", "/v1/completions"),
        "{\"model\":\"llama\",\"prompt\":\"hello\",\"stream\":true}".getBytes(StandardCharsets.UTF_8), null);
    director.responseHeaders(routing, Map.of("content-type", "text/event-stream"));
    tokenChunk = ("data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":1700000000,\"model\":\"llama\","
        + "\"choices\":[{\"index\":0,\"text\":\" token\",\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n")
        .getBytes(StandardCharsets.UTF_8);
    lastChunk = ("data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":1700000000,\"model\":\"llama\","
        + "\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":99,\"total_tokens\":104}}\n\n"
        + "data: [DONE]\n\n").getBytes(StandardCharsets.UTF_8);
  }

  /** Ninety-nine token chunks, then the usage chunk. */
  @Benchmark
  @OperationsPerInvocation(CHUNKS)
  public Object stream() {
    Object last = null;
    for (int i = 0; i < CHUNKS - 1; i++) {
      last = director.responseBody(routing, tokenChunk, false);
    }
    Object usage = director.responseBody(routing, lastChunk, false);
    return usage != null ? usage : last;
  }
}
