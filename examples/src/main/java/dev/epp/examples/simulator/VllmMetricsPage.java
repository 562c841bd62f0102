package dev.epp.examples.simulator;

import java.math.BigDecimal;

/**
 * Renders a {@link SimulatedEngine}'s state as vLLM (V1) renders its {@code /metrics} page: the same family names,
 * HELP and TYPE lines, labels ({@code model_name}, {@code engine}) and histogram buckets, in the Prometheus text
 * format of the Python client ({@code 2.0} for integers). {@code vllm:lora_requests_info} is present only when
 * adapters are configured, as in vLLM.
 */
final class VllmMetricsPage {

  private VllmMetricsPage() {}

  /**
   * The page.
   *
   * @param unixSeconds the wall-clock time, the value of {@code vllm:lora_requests_info}
   */
  static String render(SimulatedEngine engine, double unixSeconds) {
    EngineConfig config = engine.config();
    String labels = "engine=\"0\",model_name=\"" + config.model() + "\"";
    StringBuilder page = new StringBuilder(8192);
    gauge(page, "vllm:num_requests_running", "Number of requests in model execution batches.", labels,
        engine.runningCount());
    gauge(page, "vllm:num_requests_waiting", "Number of requests waiting to be processed.", labels,
        engine.waitingCount());
    gauge(page, "vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", labels, engine.kvUsage());
    if (!config.loras().isEmpty()) {
      gauge(page, "vllm:lora_requests_info", "Running stats on lora requests.",
          "max_lora=\"" + config.maxLoras() + "\",running_lora_adapters=\""
              + String.join(",", engine.runningAdapters()) + "\",waiting_lora_adapters=\""
              + String.join(",", engine.waitingAdapters()) + "\"", unixSeconds);
    }
    gauge(page, "vllm:cache_config_info", "Information of the LLMEngine CacheConfig",
        "block_size=\"" + config.blockSize() + "\",cache_dtype=\"auto\",enable_prefix_caching=\"True\",engine=\"0\","
            + "num_gpu_blocks=\"" + config.kvBlocks() + "\"", 1);
    counter(page, "vllm:prefix_cache_queries_total", "Prefix cache queries, in terms of number of queried tokens.",
        labels, engine.prefixQueries());
    counter(page, "vllm:prefix_cache_hits_total", "Prefix cache hits, in terms of number of cached tokens.", labels,
        engine.prefixHits());
    counter(page, "vllm:prompt_tokens_total", "Number of prefill tokens processed.", labels,
        engine.promptTokensTotal());
    header(page, "vllm:prompt_tokens_by_source_total", "Number of prompt tokens by source.", "counter");
    sample(page, "vllm:prompt_tokens_by_source_total", labels + ",source=\"local_compute\"",
        engine.promptTokensComputed());
    sample(page, "vllm:prompt_tokens_by_source_total", labels + ",source=\"local_cache_hit\"",
        engine.promptTokensCacheHit());
    sample(page, "vllm:prompt_tokens_by_source_total", labels + ",source=\"external_kv_transfer\"",
        engine.promptTokensTransferred());
    counter(page, "vllm:generation_tokens_total", "Number of generation tokens processed.", labels,
        engine.generationTokensTotal());
    header(page, "vllm:request_success_total", "Count of successfully processed requests.", "counter");
    engine.successes().forEach((reason, count) ->
        sample(page, "vllm:request_success_total", labels + ",finished_reason=\"" + reason + "\"", count));
    histogram(page, "vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", labels,
        engine.ttft());
    histogram(page, "vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", labels,
        engine.interToken());
    histogram(page, "vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", labels,
        engine.e2e());
    histogram(page, "vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.",
        labels, engine.queueTime());
    return page.toString();
  }

  private static void header(StringBuilder page, String name, String help, String type) {
    page.append("# HELP ").append(name).append(' ').append(help).append('\n');
    page.append("# TYPE ").append(name).append(' ').append(type).append('\n');
  }

  private static void gauge(StringBuilder page, String name, String help, String labels, double value) {
    header(page, name, help, "gauge");
    sample(page, name, labels, value);
  }

  private static void counter(StringBuilder page, String name, String help, String labels, double value) {
    header(page, name, help, "counter");
    sample(page, name, labels, value);
  }

  private static void histogram(StringBuilder page, String name, String help, String labels, Histogram h) {
    header(page, name, help, "histogram");
    double[] bounds = h.bounds();
    for (int i = 0; i < bounds.length; i++) {
      sample(page, name + "_bucket", labels + ",le=\"" + number(bounds[i]) + "\"", h.cumulativeCount(i));
    }
    sample(page, name + "_bucket", labels + ",le=\"+Inf\"", h.count());
    sample(page, name + "_count", labels, h.count());
    sample(page, name + "_sum", labels, h.sum());
  }

  private static void sample(StringBuilder page, String name, String labels, double value) {
    page.append(name).append('{').append(labels).append("} ").append(number(value)).append('\n');
  }

  /** Python's style for the values we print: {@code 2.0}, {@code 0.125}, {@code 1757000000.25}. */
  private static String number(double value) {
    if (value == Math.rint(value) && Math.abs(value) < 1e15) {
      return (long) value + ".0";
    }
    return BigDecimal.valueOf(value).toPlainString();
  }
}
