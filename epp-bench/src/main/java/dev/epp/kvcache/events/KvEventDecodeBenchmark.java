package dev.epp.kvcache.events;

import dev.epp.kvcache.index.BlockKeys;
import dev.epp.kvcache.index.KvBlockIndex;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.msgpack.core.MessageBufferPacker;
import org.msgpack.core.MessagePack;
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
 * Decoding vLLM's KV-event messages as the subscriber's workers do (in this package: the decoder is internal), and
 * decoding plus indexing them: one message of one {@code BlockStored} event of 16 blocks of 16 tokens, each with new
 * hashes, then its {@code BlockRemoved}, so the index stays the same size. Per operation: two messages, two events.
 *
 * <p>Run: {@code java -jar epp-bench/target/benchmarks.jar KvEventDecodeBenchmark -prof gc}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class KvEventDecodeBenchmark {

  private static final int BLOCKS = 16;
  private static final int BLOCK_SIZE = 16;
  private static final byte[] TOPIC = "kv@pod-0@model".getBytes(StandardCharsets.UTF_8);

  private final KvBlockIndex index = new KvBlockIndex(new BlockKeys(BLOCK_SIZE, ""), 1_000_000, 10,
      KvBlockIndex.defaultWeights());
  private byte[][] stored;
  private byte[][] removed;
  private int next;

  /** Prepares 1,024 pairs of messages with distinct hashes and tokens. */
  @Setup
  public void setUp() {
    stored = new byte[1024][];
    removed = new byte[1024][];
    for (int m = 0; m < stored.length; m++) {
      stored[m] = message(m, true);
      removed[m] = message(m, false);
    }
  }

  /** Decodes a stored and a removed message. */
  @Benchmark
  public int decode() throws KvEventDecodeException {
    int m = next++ & (stored.length - 1);
    return KvEventDecoder.decode(TOPIC, stored[m]).events().size()
        + KvEventDecoder.decode(TOPIC, removed[m]).events().size();
  }

  /** Decodes a stored and a removed message and applies both to the index. */
  @Benchmark
  public int decodeAndIndex() throws KvEventDecodeException {
    int m = next++ & (stored.length - 1);
    KvEventDecoder.Message store = KvEventDecoder.decode(TOPIC, stored[m]);
    index.apply("pod-0", store.model(), store.events());
    KvEventDecoder.Message remove = KvEventDecoder.decode(TOPIC, removed[m]);
    index.apply("pod-0", remove.model(), remove.events());
    return store.events().size() + remove.events().size();
  }

  private static byte[] message(int m, boolean store) {
    try (MessageBufferPacker packer = MessagePack.newDefaultBufferPacker()) {
      packer.packArrayHeader(3).packDouble(1.7e9).packArrayHeader(1);
      if (store) {
        packer.packArrayHeader(9).packString("BlockStored").packArrayHeader(BLOCKS);
        for (int b = 0; b < BLOCKS; b++) {
          packer.packLong(hash(m, b));
        }
        packer.packNil().packArrayHeader(BLOCKS * BLOCK_SIZE);
        for (int t = 0; t < BLOCKS * BLOCK_SIZE; t++) {
          packer.packInt((m * 7919 + t * 31) % 128_000);
        }
        packer.packInt(BLOCK_SIZE).packNil().packString("GPU").packNil().packNil();
      } else {
        packer.packArrayHeader(3).packString("BlockRemoved").packArrayHeader(BLOCKS);
        for (int b = 0; b < BLOCKS; b++) {
          packer.packLong(hash(m, b));
        }
        packer.packString("GPU");
      }
      packer.packNil();
      return packer.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static long hash(int m, int b) {
    return (long) m * 1_000_003L + b * 7L + 1;
  }
}
