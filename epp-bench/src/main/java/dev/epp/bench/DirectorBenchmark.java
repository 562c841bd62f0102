package dev.epp.bench;

import dev.epp.api.MetricsRecorder;
import dev.epp.api.requestcontrol.Usage;
import dev.epp.metrics.export.EppMetrics;
import dev.epp.metrics.export.MetricsRegistry;
import dev.epp.scheduler.DecisionLog;
import dev.epp.scheduler.Director;
import dev.epp.scheduler.Routing;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import java.time.Duration;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The EPP's own work for one full request, without the transport: the request {@link ExtProcBenchmark} sends (an
 * 800-character chat body), routed with the default configuration over {@code endpoints} pods (100 unless set, e.g.
 * {@code -p endpoints=100,1000,5000}), then its response headers, its JSON
 * response body with usage, and the end of the request, with Prometheus metrics recorded. {@code optimized} is llm-d's
 * optimized baseline (the request sticks to the pod that served it first, its prefix being known there). The
 * {@code random} configuration (only {@code random-picker}) is the baseline: parsing, metrics and bookkeeping without
 * scoring. {@code tracing=on} traces every request (sampler {@code always_on}, batch span processor, an exporter that
 * drops the spans): the cost of the {@code gateway.request_orchestration} span, its plugin events and the
 * {@code traceparent} header; {@code off} is the default, untraced Director.
 * {@code bodyBytes} sets the request's size: {@code small} is the 800-character chat request, a number an agent's
 * chat request of that many bytes ({@link Workloads#chatRequest(int)}; 400000 is about 100k tokens).
 * {@code decisionLog} measures the {@link DecisionLog}'s cost: {@code off} (none), {@code on} (as
 * {@code EppServer} runs it: one request explained and recorded per 100 ms) and {@code every} (every request explained
 * and recorded, what sampling avoids).
 *
 * <p>Run: {@code java -jar epp-bench/target/benchmarks.jar DirectorBenchmark -prof gc}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class DirectorBenchmark {

  private static final Map<String, String> REQUEST_HEADERS =
      Map.of(":path", "/v1/chat/completions", ":method", "POST", "content-type", "application/json");
  private static final Map<String, String> RESPONSE_HEADERS = Map.of("content-type", "application/json");

  /** Which configuration schedules. */
  @Param({"default", "optimized", "random"})
  public String config;

  /** Endpoints in the pool. */
  @Param({"100"})
  public int endpoints;

  /** Whether the Director traces. */
  @Param({"off", "on"})
  public String tracing;

  private OpenTelemetrySdk openTelemetry;

  /** Whether decisions are logged: {@code off}, {@code on} (sampled, the default log) or {@code every}. */
  @Param({"off", "on", "every"})
  public String decisionLog;

  /** The request body: {@code small}, or its size in bytes. */
  @Param({"small", "4000", "64000", "400000", "4000000"})
  public String bodyBytes;

  private Director director;
  private byte[] request;
  private byte[] response;

  /** Builds the director over the pool. */
  @Setup
  public void setUp() {
    MetricsRecorder metrics = EppMetrics.create(MetricsRegistry.create());
    Director.Builder builder = Director.builder(Workloads.config(config, metrics), Workloads.pool(endpoints));
    if (tracing.equals("on")) {
      openTelemetry = OpenTelemetrySdk.builder().setTracerProvider(SdkTracerProvider.builder()
          .setSampler(Sampler.alwaysOn())
          .addSpanProcessor(BatchSpanProcessor.builder(SpanExporter.composite()).build())
          .build()).build();
      builder.openTelemetry(openTelemetry);
    }
    switch (decisionLog) {
      case "off" -> { }
      case "on" -> builder.decisionLog(DecisionLog.create());
      case "every" -> builder.decisionLog(DecisionLog.create(DecisionLog.DEFAULT_CAPACITY, Duration.ZERO));
      default -> throw new IllegalArgumentException("decisionLog " + decisionLog);
    }
    director = builder.build();
    request = bodyBytes.equals("small") ? Workloads.chatRequest() : Workloads.chatRequest(Integer.parseInt(bodyBytes));
    response = Workloads.chatResponse();
  }

  /** Stops the SDK's export thread. */
  @TearDown
  public void tearDown() {
    if (openTelemetry != null) {
      openTelemetry.close();
    }
  }

  /** Routes one request and handles its response. */
  @Benchmark
  public Usage request() {
    Routing routing = director.route(REQUEST_HEADERS, request, null);
    director.responseHeaders(routing, RESPONSE_HEADERS);
    Usage usage = director.responseBody(routing, response, true);
    director.finish(routing);
    return usage;
  }
}
