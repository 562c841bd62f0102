package dev.epp.bench;

import dev.epp.api.InferenceRequest;
import dev.epp.api.RequestBody;
import dev.epp.api.RequestContext;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.ProfileResult;
import dev.epp.api.scheduling.SchedulingResult;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.scheduler.plugins.prefix.ApproxPrefixCacheProducer;
import java.util.List;
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
 * Prefix-cache affinity for one request: hashing the prompt into chained XXH64 blocks and matching them against an
 * index of 100 pods that already hold many prompts ({@code prepareData}), and recording the chosen pod
 * ({@code preRequest}). Prompt sizes 4 KB and 32 KB; {@code maxPrefixBlocksToMatch} is raised so all of a 32 KB prompt
 * is hashed. The baseline {@code hashAndMatchEmptyIndex} does the same against an index that holds nothing, so the
 * match stops at the first block: the difference is the cost of matching. Hashing alone is measured by
 * {@code PrefixHashBenchmark}.
 *
 * <p>Run: {@code java -jar epp-bench/target/benchmarks.jar PrefixCacheBenchmark -prof gc}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class PrefixCacheBenchmark {

  /** Prompt size in characters. */
  @Param({"4096", "32768"})
  public int promptChars;

  private ApproxPrefixCacheProducer producer;
  private ApproxPrefixCacheProducer emptyProducer;
  private Candidates candidates;
  private InferenceRequest request;
  private SchedulingResult result;

  /** Fills the index with 2,000 routed prompts sharing 20 system prompts, then prepares a request sharing one. */
  @Setup
  public void setUp() {
    String yaml = """
        apiVersion: inference.networking.x-k8s.io/v1alpha1
        kind: EndpointPickerConfig
        plugins:
        - type: prefix-cache-scorer
          parameters:
            maxPrefixBlocksToMatch: 1024
        """;
    EndpointPickerConfig config = EndpointPickerConfig.parse(yaml);
    producer = (ApproxPrefixCacheProducer) config.plugin(ApproxPrefixCacheProducer.TYPE).orElseThrow();
    emptyProducer = (ApproxPrefixCacheProducer) EndpointPickerConfig.parse(yaml)
        .plugin(ApproxPrefixCacheProducer.TYPE).orElseThrow();
    candidates = Workloads.pool(100).snapshot();
    for (int i = 0; i < 2_000; i++) {
      String prompt = Workloads.text(promptChars / 2, i % 20) + Workloads.text(promptChars / 2, 1_000 + i);
      RequestContext context = new RequestContext(request(prompt));
      producer.prepareData(context, candidates);
      producer.preRequest(context, target(i % candidates.size()));
    }
    request = request(Workloads.text(promptChars / 2, 7) + Workloads.text(promptChars / 2, 99_999));
    result = target(7);
  }

  private static InferenceRequest request(String prompt) {
    return InferenceRequest.builder().requestId("bench").model("llama").body(RequestBody.completion(prompt)).build();
  }

  private SchedulingResult target(int i) {
    return new SchedulingResult("default", Map.of("default", new ProfileResult(List.of(candidates.endpoint(i)))));
  }

  /** Hashes the prompt and matches it against the index. */
  @Benchmark
  public RequestContext hashAndMatch() {
    RequestContext context = new RequestContext(request);
    producer.prepareData(context, candidates);
    return context;
  }

  /** Baseline: hashes the prompt and matches it against an empty index. */
  @Benchmark
  public RequestContext hashAndMatchEmptyIndex() {
    RequestContext context = new RequestContext(request);
    emptyProducer.prepareData(context, candidates);
    return context;
  }

  /** Hashes, matches, and records the primary target in the index. */
  @Benchmark
  public RequestContext hashMatchAndIndex() {
    RequestContext context = new RequestContext(request);
    producer.prepareData(context, candidates);
    producer.preRequest(context, result);
    return context;
  }
}
