package dev.epp.bench;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
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
 * One full ext_proc exchange over loopback gRPC (request headers, an 800-character chat body, response headers, a JSON
 * response body with usage), through the EPP with the default configuration and 100 pods, against two baselines
 * answering the same messages: {@code replay} sends the EPP's recorded answers (the same bytes on the wire, without the
 * work) and {@code noop} sends empty ones. {@code epp / replay} is what the EPP adds to the transport. Sampled, so
 * the median is reported beside the mean: a shared machine's scheduling stalls move the mean, rarely the median.
 * Twenty seconds of warm-up: with gRPC, Netty and protobuf to compile on two cores, shorter warm-ups were still
 * getting faster from one measured iteration to the next.
 *
 * <p>Run: {@code java -jar epp-bench/target/benchmarks.jar ExtProcBenchmark}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 10, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class ExtProcBenchmark {

  /** {@code epp}, or the {@code replay} or {@code noop} baseline. */
  @Param({"noop", "replay", "epp"})
  public String processor;

  private static final int PRE_WARM_EXCHANGES = 20_000;

  private LoopbackEpp loopback;

  /**
   * Runs {@value #PRE_WARM_EXCHANGES} exchanges through every processor, then starts the measured one, so every fork
   * compiles the shared gRPC and protobuf code from the same type profiles. Without this a baseline's fork, whose
   * call sites only ever see its own one processor, gets a leaner transport than any real server process: its median
   * was 12 µs lower, while the EPP's did not move.
   */
  @Setup(Level.Trial)
  public void start() throws InterruptedException {
    for (String each : new String[] {"noop", "replay", "epp"}) {
      try (LoopbackEpp warm = new LoopbackEpp(each)) {
        for (int i = 0; i < PRE_WARM_EXCHANGES; i++) {
          warm.roundTrip();
        }
      }
    }
    loopback = new LoopbackEpp(processor);
  }

  /** Stops them. */
  @TearDown(Level.Trial)
  public void stop() throws InterruptedException {
    loopback.close();
  }

  /** One exchange, waited for. */
  @Benchmark
  public int roundTrip() {
    return loopback.roundTrip();
  }
}
