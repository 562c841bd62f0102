package dev.epp.metrics.scrape;

import dev.epp.api.EndpointMetrics;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * The state of one page extraction for an engine mapping: the best series per spec while the page is scanned, then
 * the resulting snapshot. Used by one thread for one page.
 */
final class Extraction implements PrometheusParser.SampleSink {

  static final int QUEUED = 0;
  static final int RUNNING = 1;
  static final int KV = 2;
  static final int KV_FALLBACK = 3;
  static final int LORA = 4;
  static final int CACHE_INFO = 5;
  static final int BLOCK_SIZE = 6;
  static final int NUM_BLOCKS = 7;
  static final int SLOTS = 8;

  private static final String LORA_RUNNING = "running_lora_adapters";
  private static final String LORA_WAITING = "waiting_lora_adapters";
  private static final String LORA_MAX = "max_lora";

  private final MetricSpec[] specs;
  private final int[] nameIndex;
  private final String blockSizeLabel;
  private final String numBlocksLabel;
  private final boolean[] found = new boolean[SLOTS];
  private final double[] value = new double[SLOTS];
  private final double[] timestamp = new double[SLOTS];
  // Labels copied from the winning LoRA series (running, waiting, max) and cache-info series (block size, blocks).
  private String loraRunning;
  private String loraWaiting;
  private String loraMax;
  private String blockSize;
  private String numBlocks;

  Extraction(MetricSpec[] specs, int[] nameIndex, String blockSizeLabel, String numBlocksLabel) {
    this.specs = specs;
    this.nameIndex = nameIndex;
    this.blockSizeLabel = blockSizeLabel;
    this.numBlocksLabel = numBlocksLabel;
  }

  @Override
  public void sample(int name, PrometheusParser.SampleLabels labels, double v, double ts) {
    double t = Double.isNaN(ts) ? 0 : ts; // as Go: a missing timestamp is 0
    for (int slot = 0; slot < SLOTS; slot++) {
      if (nameIndex[slot] != name || !specs[slot].matches(labels)) {
        continue;
      }
      boolean better = slot == LORA
          ? !found[slot] || v > value[slot]
          : !found[slot] || t > timestamp[slot];
      if (!better) {
        continue;
      }
      found[slot] = true;
      value[slot] = v;
      timestamp[slot] = t;
      if (slot == LORA) {
        loraRunning = labels.get(LORA_RUNNING);
        loraWaiting = labels.get(LORA_WAITING);
        loraMax = labels.get(LORA_MAX);
      } else if (slot == CACHE_INFO) {
        blockSize = labels.get(blockSizeLabel);
        numBlocks = labels.get(numBlocksLabel);
      }
    }
  }

  /** The snapshot after this page, or {@code previous} itself if the page provided nothing. */
  EndpointMetrics apply(EndpointMetrics previous, long nowNanos) {
    EndpointMetrics.Builder b = null;
    if (usable(QUEUED)) {
      b = builder(b, previous).waitingQueueSize(count(value[QUEUED]));
    }
    if (usable(RUNNING)) {
      b = builder(b, previous).runningRequests(count(value[RUNNING]));
    }
    int kv = usable(KV) ? KV : usable(KV_FALLBACK) ? KV_FALLBACK : -1;
    if (kv >= 0) {
      b = builder(b, previous).kvCacheUsage(Math.max(0, Math.min(1, value[kv])));
    }
    if (found[LORA]) {
      b = builder(b, previous).activeModels(RUNNING_ADAPTERS.of(loraRunning)).waitingModels(WAITING_ADAPTERS.of(loraWaiting));
      int max = parseInt(loraMax);
      if (max >= 0) {
        b.maxActiveModels(max);
      }
    }
    if (found[CACHE_INFO]) {
      b = builder(b, previous).cacheBlockSize(0); // as Go: reset, then read from the label
      int size = parseInt(blockSize);
      if (size >= 0) {
        b.cacheBlockSize(size);
      }
      int blocks = parseInt(numBlocks);
      if (blocks >= 0) {
        b.cacheNumBlocks(blocks);
      }
    }
    if (usable(BLOCK_SIZE)) {
      b = builder(b, previous).cacheBlockSize(count(value[BLOCK_SIZE]));
    }
    if (usable(NUM_BLOCKS)) {
      b = builder(b, previous).cacheNumBlocks(count(value[NUM_BLOCKS]));
    }
    return b == null ? previous : b.updatedNanos(nowNanos).build();
  }

  private boolean usable(int slot) {
    return found[slot] && !Double.isNaN(value[slot]);
  }

  private static EndpointMetrics.Builder builder(EndpointMetrics.Builder b, EndpointMetrics previous) {
    return b != null ? b : previous.toBuilder();
  }

  /** Truncates towards zero into [0, Integer.MAX_VALUE]. */
  private static int count(double v) {
    return v <= 0 ? 0 : v >= Integer.MAX_VALUE ? Integer.MAX_VALUE : (int) v;
  }

  /** A non-negative integer label value, or -1 if absent, empty or invalid. */
  private static int parseInt(String s) {
    if (s == null || s.isEmpty()) {
      return -1;
    }
    try {
      int v = Integer.parseInt(s.strip());
      return v >= 0 ? v : -1;
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  /** Running and waiting adapter lists: pages seldom change them, so most polls reuse the last set decoded. */
  private static final AdapterSets RUNNING_ADAPTERS = new AdapterSets();
  private static final AdapterSets WAITING_ADAPTERS = new AdapterSets();

  /** The set of the adapter list last decoded, shared by all endpoints; thread-safe. */
  private static final class AdapterSets {
    private record Decoded(String csv, Set<String> set) {}

    private volatile Decoded last = new Decoded("", Set.of());

    Set<String> of(String csv) {
      if (csv == null || csv.isBlank()) {
        return Set.of();
      }
      Decoded decoded = last;
      if (!decoded.csv().equals(csv)) {
        decoded = new Decoded(csv, adapters(csv));
        last = decoded;
      }
      return decoded.set();
    }
  }

  /** The distinct trimmed non-empty names of a comma-separated list; immutable. */
  private static Set<String> adapters(String csv) {
    Set<String> out = new LinkedHashSet<>();
    for (String name : csv.split(",")) {
      String trimmed = name.strip();
      if (!trimmed.isEmpty()) {
        out.add(trimmed);
      }
    }
    return Set.copyOf(out); // as EndpointMetrics would copy it
  }
}
