package dev.epp.metrics.scrape;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.Ticker;
import dev.epp.scheduler.PluginRegistry;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The {@code dataLayer} plugins load through the real registry (ServiceLoader) with the Go EPP's parameters. */
class DataLayerPluginsTest {

  private static final PluginHandle HANDLE = new PluginHandle() {
    @Override
    public Ticker ticker() {
      return Ticker.system();
    }

    @Override
    public <T> Optional<T> plugin(String name, Class<T> type) {
      return Optional.empty();
    }
  };

  private static <T> T create(String type, Map<String, ?> parameters, Class<T> pluginClass) {
    PluginSpec spec = new PluginSpec(type, type, Parameters.of(parameters));
    return pluginClass.cast(PluginRegistry.defaultRegistry().create(spec, HANDLE));
  }

  private static PluginConfigException failure(String type, Map<String, ?> parameters) {
    return assertThrows(PluginConfigException.class,
        () -> PluginRegistry.defaultRegistry().create(new PluginSpec(type, type, Parameters.of(parameters)), HANDLE));
  }

  @Test
  void bothTypesAreRegistered() {
    assertTrue(PluginRegistry.defaultRegistry().types().containsAll(
        List.of(MetricsDataSource.TYPE, CoreMetricsExtractor.TYPE)));
  }

  @Test
  void dataSourceDefaultsAndParameters() {
    MetricsDataSource defaults = create(MetricsDataSource.TYPE, Map.of(), MetricsDataSource.class);
    assertEquals("http", defaults.scheme());
    assertEquals("/metrics", defaults.path());
    assertTrue(defaults.insecureSkipVerify());

    MetricsDataSource custom = create(MetricsDataSource.TYPE,
        Map.of("scheme", "https", "path", "/v1/metrics", "insecureSkipVerify", false), MetricsDataSource.class);
    assertEquals("https", custom.scheme());
    assertEquals("/v1/metrics", custom.path());
    assertFalse(custom.insecureSkipVerify());

    assertEquals("scheme", failure(MetricsDataSource.TYPE, Map.of("scheme", "ftp")).parameter());
    assertEquals("path", failure(MetricsDataSource.TYPE, Map.of("path", "metrics")).parameter());
    assertEquals("port", failure(MetricsDataSource.TYPE, Map.of("port", 9000)).parameter());
  }

  @Test
  void extractorDefaultsAreTheBuiltIns() {
    MetricMappings m = create(CoreMetricsExtractor.TYPE, Map.of(), CoreMetricsExtractor.class).mappings();
    assertEquals(MetricMappings.DEFAULT_ENGINE_LABEL_KEY, m.engineLabelKey());
    assertEquals("vllm", m.defaultEngine());
    assertEquals(List.of("vllm", "sglang", "trtllm-serve", "triton-tensorrt-llm"),
        m.engines().stream().map(EngineMapping::name).toList());
    assertEquals("vllm:gpu_cache_usage_perc", m.engine("vllm").orElseThrow().kvUsageFallback().name());
  }

  @Test
  void userEnginesOverrideBuiltInsByNameAndOthersAreAppended() {
    MetricMappings m = create(CoreMetricsExtractor.TYPE, Map.of(
        "engineLabelKey", "llm-d.ai/engine-type",
        "defaultEngine", "sglang",
        "engineConfigs", List.of(
            Map.of("name", "sglang", "queuedRequestsSpec", "sglang:num_queue_reqs",
                "runningRequestsSpec", "sglang:num_running_reqs", "kvUsageSpec", "sglang:token_usage",
                "cacheBlockSizeSpec", "sglang:page_size", "cacheNumBlocksSpec", "sglang:num_pages"),
            Map.of("name", "my-engine", "queuedRequestsSpec", "q{pool=a}", "kvUsageSpec", "kv",
                "cacheInfoSpec", "info", "cacheBlockSizeLabelName", "bs", "cacheNumBlocksLabelName", "nb"))),
        CoreMetricsExtractor.class).mappings();
    assertEquals("llm-d.ai/engine-type", m.engineLabelKey());
    assertEquals("sglang", m.defaultEngine());
    assertEquals(List.of("sglang", "my-engine", "vllm", "trtllm-serve", "triton-tensorrt-llm"),
        m.engines().stream().map(EngineMapping::name).toList());
    EngineMapping sglang = m.engine("sglang").orElseThrow();
    assertEquals("sglang:page_size", sglang.cacheBlockSize().name());
    assertNull(sglang.cacheInfo(), "a configured engine replaces the built-in entirely");
    EngineMapping mine = m.engine("my-engine").orElseThrow();
    assertEquals(Map.of("pool", "a"), mine.queuedRequests().labels());
    assertNull(mine.runningRequests(), "an omitted spec is disabled");
    assertEquals("bs", mine.cacheBlockSizeLabel());
    assertEquals("nb", mine.cacheNumBlocksLabel());
  }

  @Test
  void configurationErrorsNameTheParameter() {
    assertEquals("engineConfigs[0].kvUsageSpec", failure(CoreMetricsExtractor.TYPE,
        Map.of("engineConfigs", List.of(Map.of("name", "x", "kvUsageSpec", "kv{a=")))).parameter());
    assertEquals("engineConfigs[0].name", failure(CoreMetricsExtractor.TYPE,
        Map.of("engineConfigs", List.of(Map.of("kvUsageSpec", "kv")))).parameter());
    assertEquals("engineConfigs[0].name", failure(CoreMetricsExtractor.TYPE,
        Map.of("engineConfigs", List.of(Map.of("name", "default")))).parameter());
    assertEquals("engineConfigs[1].quedRequestsSpec", failure(CoreMetricsExtractor.TYPE,
        Map.of("engineConfigs", List.of(Map.of("name", "a"), Map.of("name", "b", "quedRequestsSpec", "q"))))
            .parameter());
    assertEquals("defaultEngine", failure(CoreMetricsExtractor.TYPE, Map.of("defaultEngine", "tgi")).parameter());
    assertEquals("engineConfigs", failure(CoreMetricsExtractor.TYPE,
        Map.of("engineConfigs", List.of(Map.of("name", "a"), Map.of("name", "a")))).parameter());
  }
}
