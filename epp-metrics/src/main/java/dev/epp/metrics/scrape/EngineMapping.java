package dev.epp.metrics.scrape;

import dev.epp.api.EndpointMetrics;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * How one model-server engine (vLLM, SGLang, trtllm-serve, Triton TensorRT-LLM) exposes the metrics the EPP reads,
 * and the extraction of an {@link EndpointMetrics} snapshot from its {@code /metrics} page. The Go EPP calls this an
 * engine config of {@code core-metrics-extractor}; the built-ins are {@link #builtIns()}.
 *
 * <p>Extraction (the Go EPP's semantics): a spec with no matching series leaves its field unchanged and the other
 * fields still update; among matching series the one with the greatest timestamp wins (the first on ties or without
 * timestamps), except for LoRA where the largest value wins (vLLM sets it to the series' creation time). Counts are
 * truncated to integers, KV-cache usage is clamped into [0, 1], NaN values are ignored. {@code updatedNanos} is set
 * only if at least one field was read.
 *
 * <p><b>Threading:</b> immutable and thread-safe.
 */
public final class EngineMapping {

  /** Label of the cache-info series holding the block size, unless overridden. */
  public static final String DEFAULT_BLOCK_SIZE_LABEL = "block_size";

  /** Label of the cache-info series holding the number of blocks, unless overridden. */
  public static final String DEFAULT_NUM_BLOCKS_LABEL = "num_gpu_blocks";

  private static final List<EngineMapping> BUILT_INS = List.of(
      builder("vllm")
          .queuedRequests("vllm:num_requests_waiting")
          .runningRequests("vllm:num_requests_running")
          .kvUsage("vllm:kv_cache_usage_perc")
          .kvUsageFallback("vllm:gpu_cache_usage_perc")
          .lora("vllm:lora_requests_info")
          .cacheInfo("vllm:cache_config_info")
          .build(),
      builder("sglang")
          .queuedRequests("sglang:num_queue_reqs")
          .runningRequests("sglang:num_running_reqs")
          .kvUsage("sglang:token_usage")
          .cacheInfo("sglang:cache_config_info")
          .cacheBlockSizeLabel("page_size")
          .cacheNumBlocksLabel("num_pages")
          .build(),
      builder("trtllm-serve")
          .queuedRequests("trtllm_num_requests_waiting")
          .runningRequests("trtllm_num_requests_running")
          .kvUsage("trtllm_kv_cache_utilization")
          .cacheBlockSize("trtllm_kv_cache_tokens_per_block")
          .cacheNumBlocks("trtllm_kv_cache_max_blocks")
          .build(),
      builder("triton-tensorrt-llm")
          .queuedRequests("nv_trt_llm_request_metrics{request_type=waiting}")
          .runningRequests("nv_trt_llm_request_metrics{request_type=scheduled}")
          .kvUsage("nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type=fraction}")
          .cacheBlockSize("nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type=tokens_per}")
          .cacheNumBlocks("nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type=max}")
          .build());

  private final String name;
  private final MetricSpec[] specs; // indexed by Extraction.QUEUED ... Extraction.NUM_BLOCKS; null = disabled
  private final String blockSizeLabel;
  private final String numBlocksLabel;
  private final PrometheusParser.Names names;
  private final int[] nameIndex; // per spec slot: index into names, or -1

  private EngineMapping(Builder b) {
    this.name = b.name;
    this.specs = b.specs.clone();
    this.blockSizeLabel = b.blockSizeLabel;
    this.numBlocksLabel = b.numBlocksLabel;
    List<String> wanted = new ArrayList<>();
    for (MetricSpec spec : specs) {
      if (spec != null) {
        wanted.add(spec.name());
      }
    }
    this.names = PrometheusParser.Names.of(wanted);
    this.nameIndex = new int[specs.length];
    for (int i = 0; i < specs.length; i++) {
      nameIndex[i] = specs[i] == null ? -1 : names.indexOf(specs[i].name());
    }
  }

  /** The built-in mappings of the Go EPP v1.5: {@code vllm}, {@code sglang}, {@code trtllm-serve}, {@code triton-tensorrt-llm}. */
  public static List<EngineMapping> builtIns() {
    return BUILT_INS;
  }

  /** A builder for an engine named {@code name}, with every metric disabled. */
  public static Builder builder(String name) {
    return new Builder(name);
  }

  /** The engine name, the value of the engine-type label that selects this mapping. */
  public String name() {
    return name;
  }

  /** The spec of the waiting-queue size, or {@code null} if disabled. */
  public MetricSpec queuedRequests() {
    return specs[Extraction.QUEUED];
  }

  /** The spec of the running-requests count, or {@code null} if disabled. */
  public MetricSpec runningRequests() {
    return specs[Extraction.RUNNING];
  }

  /** The spec of the KV-cache usage (0..1), or {@code null} if disabled. */
  public MetricSpec kvUsage() {
    return specs[Extraction.KV];
  }

  /** The spec read for KV-cache usage when {@link #kvUsage()} has no series (vLLM's legacy name), or {@code null}. */
  public MetricSpec kvUsageFallback() {
    return specs[Extraction.KV_FALLBACK];
  }

  /** The spec of the LoRA info series ({@code max_lora}, {@code running_lora_adapters}, ...), or {@code null}. */
  public MetricSpec lora() {
    return specs[Extraction.LORA];
  }

  /** The spec of the info series whose labels carry the cache geometry, or {@code null}. */
  public MetricSpec cacheInfo() {
    return specs[Extraction.CACHE_INFO];
  }

  /** The label of {@link #cacheInfo()} holding the block size. */
  public String cacheBlockSizeLabel() {
    return blockSizeLabel;
  }

  /** The label of {@link #cacheInfo()} holding the number of blocks. */
  public String cacheNumBlocksLabel() {
    return numBlocksLabel;
  }

  /** The spec of a gauge holding the block size, or {@code null}. */
  public MetricSpec cacheBlockSize() {
    return specs[Extraction.BLOCK_SIZE];
  }

  /** The spec of a gauge holding the number of blocks, or {@code null}. */
  public MetricSpec cacheNumBlocks() {
    return specs[Extraction.NUM_BLOCKS];
  }

  /** The metric names this mapping reads. */
  public PrometheusParser.Names metricNames() {
    return names;
  }

  /**
   * Reads a page into a new snapshot.
   *
   * @param page the page bytes, UTF-8
   * @param length how many bytes of {@code page} to read
   * @param previous the endpoint's current metrics; fields this page does not provide keep their values
   * @param nowNanos the {@link dev.epp.api.Ticker} time to stamp the snapshot with
   * @return the updated snapshot, or {@code previous} itself if the page provided none of the metrics
   */
  public EndpointMetrics extract(byte[] page, int length, EndpointMetrics previous, long nowNanos) {
    Extraction extraction = new Extraction(specs, nameIndex, blockSizeLabel, numBlocksLabel);
    PrometheusParser.scan(page, length, names, extraction);
    return extraction.apply(previous, nowNanos);
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("EngineMapping[").append(name);
    String[] keys = {"queued", "running", "kvUsage", "kvUsageFallback", "lora", "cacheInfo", "cacheBlockSize",
        "cacheNumBlocks"};
    for (int i = 0; i < specs.length; i++) {
      if (specs[i] != null) {
        sb.append(", ").append(keys[i]).append('=').append(specs[i]);
      }
    }
    if (specs[Extraction.CACHE_INFO] != null) {
      sb.append(", labels=").append(blockSizeLabel).append('/').append(numBlocksLabel);
    }
    return sb.append(']').toString();
  }

  /**
   * Builds an {@link EngineMapping}. Each spec setter takes selector syntax ({@link MetricSpec#parse}); an empty
   * string disables the metric. Not thread-safe.
   */
  public static final class Builder {
    private final String name;
    private final MetricSpec[] specs = new MetricSpec[Extraction.SLOTS];
    private String blockSizeLabel = DEFAULT_BLOCK_SIZE_LABEL;
    private String numBlocksLabel = DEFAULT_NUM_BLOCKS_LABEL;

    private Builder(String name) {
      Objects.requireNonNull(name, "name");
      if (name.isBlank()) {
        throw new IllegalArgumentException("engine name must not be blank");
      }
      this.name = name;
    }

    /** Sets {@link EngineMapping#queuedRequests()}. */
    public Builder queuedRequests(String spec) {
      return set(Extraction.QUEUED, spec);
    }

    /** Sets {@link EngineMapping#runningRequests()}. */
    public Builder runningRequests(String spec) {
      return set(Extraction.RUNNING, spec);
    }

    /** Sets {@link EngineMapping#kvUsage()}. */
    public Builder kvUsage(String spec) {
      return set(Extraction.KV, spec);
    }

    /** Sets {@link EngineMapping#kvUsageFallback()}. */
    public Builder kvUsageFallback(String spec) {
      return set(Extraction.KV_FALLBACK, spec);
    }

    /** Sets {@link EngineMapping#lora()}. */
    public Builder lora(String spec) {
      return set(Extraction.LORA, spec);
    }

    /** Sets {@link EngineMapping#cacheInfo()}. */
    public Builder cacheInfo(String spec) {
      return set(Extraction.CACHE_INFO, spec);
    }

    /** Sets {@link EngineMapping#cacheBlockSizeLabel()}; empty means the default {@value #DEFAULT_BLOCK_SIZE_LABEL}. */
    public Builder cacheBlockSizeLabel(String label) {
      this.blockSizeLabel = label.isEmpty() ? DEFAULT_BLOCK_SIZE_LABEL : label;
      return this;
    }

    /** Sets {@link EngineMapping#cacheNumBlocksLabel()}; empty means the default {@value #DEFAULT_NUM_BLOCKS_LABEL}. */
    public Builder cacheNumBlocksLabel(String label) {
      this.numBlocksLabel = label.isEmpty() ? DEFAULT_NUM_BLOCKS_LABEL : label;
      return this;
    }

    /** Sets {@link EngineMapping#cacheBlockSize()}. */
    public Builder cacheBlockSize(String spec) {
      return set(Extraction.BLOCK_SIZE, spec);
    }

    /** Sets {@link EngineMapping#cacheNumBlocks()}. */
    public Builder cacheNumBlocks(String spec) {
      return set(Extraction.NUM_BLOCKS, spec);
    }

    /** The mapping. */
    public EngineMapping build() {
      return new EngineMapping(this);
    }

    private Builder set(int slot, String spec) {
      specs[slot] = MetricSpec.parse(spec);
      return this;
    }
  }
}
