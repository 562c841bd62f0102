package dev.epp.scheduler.plugins.prefix;

import com.dynatrace.hash4j.hashing.Hasher64;
import com.dynatrace.hash4j.hashing.Hashing;
import java.nio.charset.StandardCharsets;
import java.util.Random;
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
 * Prefix hashing alone: a prompt String of 4 KB, 32 KB or 256 KB of ASCII text encoded to UTF-8 and hashed into the
 * chain of XXH64 block hashes (64-byte blocks, the default 16 tokens; the block limit is raised so every byte is
 * hashed). The baseline is one XXH64 call over the same bytes, already encoded, so the ratio shows what the chain
 * (one XXH64 set-up and finalisation per 64-byte block) and the encoding cost on top of the raw hash.
 *
 * <p>Throughput in GB/s is {@code promptChars / score}: the score is nanoseconds per prompt and every character is
 * one byte. The class sits in the prefix plugins' package because the hasher is package-private.
 *
 * <p>Run: {@code java -jar epp-bench/target/benchmarks.jar PrefixHashBenchmark -prof gc}
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class PrefixHashBenchmark {

  private static final int BLOCK_CHARS = 64;

  /** Prompt size in characters (and UTF-8 bytes). */
  @Param({"4096", "32768", "262144"})
  public int promptChars;

  private final Hasher64 xxh64 = Hashing.xxh64();
  private String prompt;
  private byte[] utf8;
  private int maxBlocks;

  /** Builds English-like ASCII text of the requested size. */
  @Setup
  public void setUp() {
    String[] words = {"the", "model", "server", "routes", "each", "request", "to", "a", "pod", "with", "cached",
        "prefix", "blocks", "and", "short", "queues", "so", "latency", "stays", "low"};
    Random random = new Random(42);
    StringBuilder sb = new StringBuilder(promptChars + 16);
    while (sb.length() < promptChars) {
      sb.append(words[random.nextInt(words.length)]).append(' ');
    }
    sb.setLength(promptChars);
    prompt = sb.toString();
    utf8 = prompt.getBytes(StandardCharsets.UTF_8);
    maxBlocks = promptChars / BLOCK_CHARS;
  }

  /** Encodes the prompt and computes its chain of block hashes, as each request does. */
  @Benchmark
  public long[] prefixHash() {
    return PrefixHasher.hash("llama", "", prompt, BLOCK_CHARS, maxBlocks);
  }

  /** Baseline: one XXH64 over the already encoded prompt. */
  @Benchmark
  public long xxh64OneShot() {
    return xxh64.hashBytesToLong(utf8);
  }
}
