package dev.epp.bench;

import dev.epp.kvcache.events.KvEvent;
import dev.epp.kvcache.index.BlockKeys;
import dev.epp.kvcache.index.KvBlockIndex;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The precise prefix-cache index: matching a 32 KB prompt (8,000 tokens, 500 blocks of 16) that one of 100 pods holds
 * entirely, against an index of one million blocks (2,000 prompts of 500 blocks spread over the pods)
 * ({@code keysAndMatch}: block keys plus match, what {@code precise-prefix-cache-producer} does per request;
 * {@code matchOnly}), and indexing: one {@code BlockStored} event of 16 blocks ({@code storeEvent}, keys computed
 * from the tokens plus index updates).
 *
 * <p>Run: {@code java -jar epp-bench/target/benchmarks.jar KvBlockIndexBenchmark -prof gc}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgs = "-Xmx4g")
public class KvBlockIndexBenchmark {

  private static final int PODS = 100;
  private static final int PROMPTS = 2_000;
  private static final int PROMPT_TOKENS = 8_000;
  private static final String MODEL = "model";

  private final BlockKeys blockKeys = new BlockKeys(16, "");
  private KvBlockIndex index;
  private String[] pods;
  private int[] prompt;
  private long[] promptKeys;
  private List<KvEvent>[] events;
  private int next;

  /** Fills the index with one million blocks and prepares the request and the events to store. */
  @Setup
  @SuppressWarnings("unchecked")
  public void setUp() {
    index = new KvBlockIndex(blockKeys, 2_000_000, 10, KvBlockIndex.defaultWeights());
    pods = new String[PODS];
    for (int i = 0; i < PODS; i++) {
      pods[i] = "pod-" + i + "-rank-0";
    }
    for (int p = 0; p < PROMPTS; p++) {
      int[] tokens = tokens(p, PROMPT_TOKENS);
      long[] engine = new long[PROMPT_TOKENS / 16];
      for (int b = 0; b < engine.length; b++) {
        engine[b] = (long) p * 1_000 + b;
      }
      index.apply(pods[p % PODS], MODEL, List.of(new KvEvent.BlockStored(engine, 0, false, tokens, 16, null, "gpu",
          List.of())));
    }
    prompt = tokens(7, PROMPT_TOKENS);
    promptKeys = blockKeys.keys(MODEL, prompt);
    events = new List[1_024];
    for (int e = 0; e < events.length; e++) {
      events[e] = List.of(new KvEvent.BlockStored(new long[] {e * 16L}, 0, false, tokens(1_000_000 + e, 256), 16,
          null, "gpu", List.of()));
    }
  }

  private static int[] tokens(int seed, int count) {
    int[] tokens = new int[count];
    long state = seed * 0x9E3779B97F4A7C15L + 1;
    for (int i = 0; i < count; i++) {
      state = state * 6364136223846793005L + 1442695040888963407L;
      tokens[i] = (int) ((state >>> 33) % 128_000);
    }
    return tokens;
  }

  /** Block keys of the 8,000-token prompt and its match over 100 pods. */
  @Benchmark
  public double[] keysAndMatch() {
    return index.match(blockKeys.keys(MODEL, prompt), pods);
  }

  /** The match alone. */
  @Benchmark
  public double[] matchOnly() {
    return index.match(promptKeys, pods);
  }

  /** One event storing 16 blocks (256 tokens) on one pod. */
  @Benchmark
  public int storeEvent() {
    int e = next++ & (events.length - 1);
    index.apply(pods[e % PODS], MODEL, events[e]);
    return e;
  }
}
