package dev.epp.metrics.scrape;

import static dev.epp.metrics.scrape.PrometheusParserTest.resource;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class EngineMappingTest {

  private static final long NOW = 123_456_789L;

  private static EndpointMetrics extract(String engine, byte[] page, EndpointMetrics previous) {
    EngineMapping mapping = MetricMappings.defaults().engine(engine).orElseThrow();
    return mapping.extract(page, page.length, previous, NOW);
  }

  private static EndpointMetrics extract(String engine, String page) {
    return extract(engine, page.getBytes(StandardCharsets.UTF_8), EndpointMetrics.none());
  }

  @Test
  void adapterListsAreRightWhenPagesOfDifferentEndpointsAlternate() {
    String a = "vllm:lora_requests_info{max_lora=\"2\",running_lora_adapters=\"x, y,,x \","
        + "waiting_lora_adapters=\"z\"} 1\n";
    String b = "vllm:lora_requests_info{max_lora=\"2\",running_lora_adapters=\"y\","
        + "waiting_lora_adapters=\" , \"} 1\n";
    String c = "vllm:lora_requests_info{max_lora=\"2\",running_lora_adapters=\"\",waiting_lora_adapters=\"x,y\"} 1\n";
    for (int i = 0; i < 3; i++) {
      EndpointMetrics ma = extract("vllm", a);
      assertEquals(Set.of("x", "y"), ma.activeModels());
      assertEquals(Set.of("z"), ma.waitingModels());
      EndpointMetrics mb = extract("vllm", b);
      assertEquals(Set.of("y"), mb.activeModels());
      assertEquals(Set.of(), mb.waitingModels());
      EndpointMetrics mc = extract("vllm", c);
      assertEquals(Set.of(), mc.activeModels());
      assertEquals(Set.of("x", "y"), mc.waitingModels());
    }
  }

  @Test
  void vllmRealPage() throws IOException {
    EndpointMetrics m = extract("vllm", resource("vllm-metrics.txt"), EndpointMetrics.none());
    assertEquals(3, m.waitingQueueSize());
    assertEquals(7, m.runningRequests());
    assertEquals(0.4217, m.kvCacheUsage());
    // LoRA: the series with the largest value (newest creation time) wins, not the last or the first.
    assertEquals(Set.of("sql-lora", "tweet-summary"), m.activeModels());
    assertEquals(Set.of("french-lora"), m.waitingModels());
    assertEquals(4, m.maxActiveModels());
    assertEquals(16, m.cacheBlockSize());
    assertEquals(81767, m.cacheNumBlocks());
    assertEquals(NOW, m.updatedNanos());
  }

  @Test
  void vllmLegacyKvCacheNameIsTheFallback() {
    // vLLM before 0.10 (production-stack issue #318): only vllm:gpu_cache_usage_perc.
    String legacy = """
        # HELP vllm:num_requests_running Number of requests in model execution batches.
        # TYPE vllm:num_requests_running gauge
        vllm:num_requests_running{model_name="Qwen/Qwen2.5-Coder-32B-Instruct"} 0.0
        # HELP vllm:num_requests_waiting Number of requests waiting to be processed.
        # TYPE vllm:num_requests_waiting gauge
        vllm:num_requests_waiting{model_name="Qwen/Qwen2.5-Coder-32B-Instruct"} 2.0
        # HELP vllm:gpu_cache_usage_perc GPU KV-cache usage. 1 means 100 percent usage.
        # TYPE vllm:gpu_cache_usage_perc gauge
        vllm:gpu_cache_usage_perc{model_name="Qwen/Qwen2.5-Coder-32B-Instruct"} 0.25
        """;
    EndpointMetrics m = extract("vllm", legacy);
    assertEquals(2, m.waitingQueueSize());
    assertEquals(0.25, m.kvCacheUsage());

    String both = legacy + "vllm:kv_cache_usage_perc{model_name=\"Qwen/Qwen2.5-Coder-32B-Instruct\"} 0.75\n";
    assertEquals(0.75, extract("vllm", both).kvCacheUsage(), "the current name wins when both are present");
  }

  @Test
  void vllmSimulatorPage() {
    // llm-d-inference-sim at startup (Go promhttp formatting).
    String sim = """
        # HELP vllm:cache_config_info Information of the LLMEngine CacheConfig.
        # TYPE vllm:cache_config_info gauge
        vllm:cache_config_info{block_size="16",num_gpu_blocks="1024"} 1
        # HELP vllm:kv_cache_usage_perc Prometheus metric for the fraction of KV-cache blocks currently in use (from 0 to 1).
        # TYPE vllm:kv_cache_usage_perc gauge
        vllm:kv_cache_usage_perc{model_name="model"} 0
        # HELP vllm:lora_requests_info Running stats on lora requests.
        # TYPE vllm:lora_requests_info gauge
        vllm:lora_requests_info{max_lora="2",running_lora_adapters="",waiting_lora_adapters=""} 1.76e+09
        vllm:lora_requests_info{max_lora="1",running_lora_adapters="lora4,lora2",waiting_lora_adapters="lora3"} 1.257894567e+09
        # HELP vllm:num_requests_running Number of requests currently running on GPU.
        # TYPE vllm:num_requests_running gauge
        vllm:num_requests_running{model_name="model"} 0
        # HELP vllm:num_requests_waiting Prometheus metric for the number of queued requests.
        # TYPE vllm:num_requests_waiting gauge
        vllm:num_requests_waiting{model_name="model"} 0
        """;
    EndpointMetrics m = extract("vllm", sim);
    assertEquals(Set.of(), m.activeModels(), "the newer (larger-valued) series has no adapters");
    assertEquals(2, m.maxActiveModels());
    assertEquals(1024, m.cacheNumBlocks());
  }

  @Test
  void missingFamiliesLeaveFieldsUnchangedAndNothingLeavesTheSnapshot() {
    EndpointMetrics previous = EndpointMetrics.builder().waitingQueueSize(9).runningRequests(4).kvCacheUsage(0.5)
        .activeModels(Set.of("a")).cacheBlockSize(32).updatedNanos(1).build();
    byte[] onlyQueue = "vllm:num_requests_waiting 1\n".getBytes(StandardCharsets.US_ASCII);
    EndpointMetrics m = extract("vllm", onlyQueue, previous);
    assertEquals(1, m.waitingQueueSize());
    assertEquals(4, m.runningRequests());
    assertEquals(0.5, m.kvCacheUsage());
    assertEquals(Set.of("a"), m.activeModels());
    assertEquals(32, m.cacheBlockSize());
    assertEquals(NOW, m.updatedNanos());

    byte[] none = "# nothing here\nother_metric 1\n".getBytes(StandardCharsets.US_ASCII);
    assertSame(previous, extract("vllm", none, previous), "no field read: the same snapshot, not restamped");
  }

  @Test
  void valuesAreTruncatedClampedAndNaNIgnored() {
    EndpointMetrics m = extract("vllm", """
        vllm:num_requests_waiting 3.9
        vllm:num_requests_running -2
        vllm:kv_cache_usage_perc 1.7
        """);
    assertEquals(3, m.waitingQueueSize());
    assertEquals(0, m.runningRequests());
    assertEquals(1.0, m.kvCacheUsage());
    EndpointMetrics nan = extract("vllm", "vllm:kv_cache_usage_perc NaN\nvllm:num_requests_waiting +Inf\n");
    assertEquals(0.0, nan.kvCacheUsage());
    assertEquals(Integer.MAX_VALUE, nan.waitingQueueSize());
  }

  @Test
  void newestTimestampWinsForStandardSpecs() {
    EndpointMetrics m = extract("vllm", """
        vllm:num_requests_waiting{engine="0"} 1 1000
        vllm:num_requests_waiting{engine="1"} 5 3000
        vllm:num_requests_waiting{engine="2"} 2 2000
        vllm:num_requests_running{engine="0"} 7
        vllm:num_requests_running{engine="1"} 8
        """);
    assertEquals(5, m.waitingQueueSize());
    assertEquals(7, m.runningRequests(), "without timestamps the first series wins");
  }

  @Test
  void sglangRealPage() throws IOException {
    EndpointMetrics m = extract("sglang", resource("sglang-metrics.txt"), EndpointMetrics.none());
    assertEquals(4, m.waitingQueueSize());
    assertEquals(1, m.runningRequests());
    assertEquals(0.0, m.kvCacheUsage());
    assertEquals(64, m.cacheBlockSize());
    assertEquals(31744, m.cacheNumBlocks());
    assertEquals(NOW, m.updatedNanos());
  }

  @Test
  void tritonRealPage() throws IOException {
    EndpointMetrics m = extract("triton-tensorrt-llm", resource("triton-metrics.txt"), EndpointMetrics.none());
    assertEquals(1, m.waitingQueueSize());
    assertEquals(1, m.runningRequests());
    assertEquals(0.4875, m.kvCacheUsage());
    assertEquals(64, m.cacheBlockSize());
    assertEquals(6239, m.cacheNumBlocks());
  }

  @Test
  void trtllmServe() {
    EndpointMetrics m = extract("trtllm-serve", """
        # HELP trtllm_num_requests_waiting Number of requests waiting.
        # TYPE trtllm_num_requests_waiting gauge
        trtllm_num_requests_waiting{model_name="llama"} 6
        trtllm_num_requests_running{model_name="llama"} 2
        trtllm_kv_cache_utilization{model_name="llama"} 0.125
        trtllm_kv_cache_tokens_per_block{model_name="llama"} 32
        trtllm_kv_cache_max_blocks{model_name="llama"} 4096
        """);
    assertEquals(6, m.waitingQueueSize());
    assertEquals(2, m.runningRequests());
    assertEquals(0.125, m.kvCacheUsage());
    assertEquals(32, m.cacheBlockSize());
    assertEquals(4096, m.cacheNumBlocks());
  }

  @Test
  void engineIsChosenByLabel() {
    MetricMappings mappings = MetricMappings.defaults();
    String key = MetricMappings.DEFAULT_ENGINE_LABEL_KEY;
    assertEquals("sglang", mappings.forEndpoint(new Endpoint("a", "10.0.0.1", 8000, Map.of(key, "sglang"))).name());
    assertEquals("vllm", mappings.forEndpoint(Endpoint.of("b", "10.0.0.2", 8000)).name());
    assertEquals("vllm", mappings.forEndpoint(new Endpoint("c", "10.0.0.3", 8000, Map.of(key, "tgi"))).name());
  }
}
