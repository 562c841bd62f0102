package dev.epp.examples.simulator;

import java.util.List;

/**
 * How a simulated model server is sized and how fast it is.
 *
 * @param model the served base model name
 * @param loras the LoRA adapters it serves besides the base model
 * @param maxLoras how many distinct adapters may run at once
 * @param maxNumSeqs how many sequences may run (prefill or decode) at once; more wait in a FIFO queue
 * @param kvBlocks KV-cache blocks
 * @param blockSize tokens per KV-cache block
 * @param prefillNanosPerToken prefill time per uncached prompt token
 * @param decodeNanosPerToken time between output tokens of a running sequence
 * @param kvTransferNanosPerToken time to pull one prompt token's KV from a prefill pod (prefill/decode
 *     disaggregation)
 * @param prefillStallsDecode whether a pod's running sequences stop decoding while it prefills (see
 *     {@link SimulatedEngine}); off by default
 */
record EngineConfig(
    String model,
    List<String> loras,
    int maxLoras,
    int maxNumSeqs,
    int kvBlocks,
    int blockSize,
    long prefillNanosPerToken,
    long decodeNanosPerToken,
    long kvTransferNanosPerToken,
    boolean prefillStallsDecode) {

  /** The served model name unless a flag says otherwise. */
  static final String DEFAULT_MODEL = "meta-llama/Llama-3.1-8B-Instruct";

  /**
   * The defaults: 64 sequences; 1,024 blocks of 16 tokens (16,384 tokens of KV cache, llm-d-inference-sim's default
   * {@code --kv-cache-size} and {@code --block-size}); prefill 100 µs per token (10,000 tokens/s, an 8B model on a
   * data-centre GPU); decode 10 ms per token; KV transfer 5 µs per token (an 8B model's 128 KiB of KV per token over
   * NIXL/RDMA at an effective 25 GB/s, half a 400 Gb/s link: 20 times cheaper than prefilling it).
   */
  static EngineConfig defaults() {
    return new EngineConfig(DEFAULT_MODEL, List.of(), 1, 64, 1024, 16, 100_000, 10_000_000, 5_000);
  }

  /** A configuration without prefill/decode interference. */
  EngineConfig(String model, List<String> loras, int maxLoras, int maxNumSeqs, int kvBlocks, int blockSize,
      long prefillNanosPerToken, long decodeNanosPerToken, long kvTransferNanosPerToken) {
    this(model, loras, maxLoras, maxNumSeqs, kvBlocks, blockSize, prefillNanosPerToken, decodeNanosPerToken,
        kvTransferNanosPerToken, false);
  }

  /** This configuration with prefills stalling decode. */
  EngineConfig withPrefillStallingDecode() {
    return new EngineConfig(model, loras, maxLoras, maxNumSeqs, kvBlocks, blockSize, prefillNanosPerToken,
        decodeNanosPerToken, kvTransferNanosPerToken, true);
  }

  /** This configuration with {@code blocks} KV-cache blocks. */
  EngineConfig withKvBlocks(int blocks) {
    return new EngineConfig(model, loras, maxLoras, maxNumSeqs, blocks, blockSize, prefillNanosPerToken,
        decodeNanosPerToken, kvTransferNanosPerToken, prefillStallsDecode);
  }

  /** Validates and copies the components. */
  EngineConfig {
    loras = List.copyOf(loras);
    if (model.isBlank()) {
      throw new IllegalArgumentException("model must not be blank");
    }
    if (maxLoras < 1 || maxNumSeqs < 1 || kvBlocks < 1 || blockSize < 1) {
      throw new IllegalArgumentException("max LoRAs, max sequences, KV blocks and block size must be positive");
    }
    if (prefillNanosPerToken < 0 || decodeNanosPerToken < 0 || kvTransferNanosPerToken < 0) {
      throw new IllegalArgumentException("prefill, decode and KV transfer times must not be negative");
    }
  }

  /** Whether {@code name} is the base model or one of the adapters. */
  boolean serves(String name) {
    return model.equals(name) || loras.contains(name);
  }
}
