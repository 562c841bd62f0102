package dev.epp.metrics.scrape;

import dev.epp.api.Parameters;
import dev.epp.api.Plugin;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.TypedName;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The {@code core-metrics-extractor} plugin of a Go {@code EndpointPickerConfig}'s {@code dataLayer}: it carries the
 * validated engine mappings; the server configures the {@link MetricsScraper} with {@link #mappings()}.
 *
 * <p>Parameters (the Go EPP's): {@code engineLabelKey} (default {@value MetricMappings#DEFAULT_ENGINE_LABEL_KEY}),
 * {@code defaultEngine} (default {@value MetricMappings#DEFAULT_ENGINE}), and {@code engineConfigs[]} with keys
 * {@code name}, {@code queuedRequestsSpec}, {@code runningRequestsSpec}, {@code kvUsageSpec}, {@code loraSpec},
 * {@code cacheInfoSpec}, {@code cacheBlockSizeLabelName}, {@code cacheNumBlocksLabelName}, {@code cacheBlockSizeSpec},
 * {@code cacheNumBlocksSpec}. A configured engine replaces the built-in of the same name entirely (a spec it omits is
 * disabled, and a configured {@code vllm} has no legacy KV fallback); other built-ins are kept.
 *
 * <p><b>Threading:</b> immutable and thread-safe.
 */
public final class CoreMetricsExtractor implements Plugin {

  /** The plugin type. */
  public static final String TYPE = "core-metrics-extractor";

  private final TypedName typedName;
  private final MetricMappings mappings;

  /** A plugin named {@code name} carrying {@code mappings}. */
  public CoreMetricsExtractor(String name, MetricMappings mappings) {
    this.typedName = new TypedName(TYPE, name);
    this.mappings = Objects.requireNonNull(mappings, "mappings");
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  /** The engine mappings. */
  public MetricMappings mappings() {
    return mappings;
  }

  /** Creates {@link CoreMetricsExtractor}s from configuration; registered with {@link java.util.ServiceLoader}. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public Plugin create(PluginSpec spec, PluginHandle handle) {
      Parameters p = spec.parameters();
      String labelKey = p.getString("engineLabelKey", MetricMappings.DEFAULT_ENGINE_LABEL_KEY);
      String defaultEngine = p.getString("defaultEngine", MetricMappings.DEFAULT_ENGINE);
      if (labelKey.isBlank()) {
        throw new PluginConfigException("parameter 'engineLabelKey' must not be blank", "engineLabelKey");
      }
      List<Parameters> configs = p.getParametersList("engineConfigs");
      List<EngineMapping> engines = new ArrayList<>(configs.size());
      for (int i = 0; i < configs.size(); i++) {
        engines.add(engine(configs.get(i), "engineConfigs[" + i + "]"));
      }
      try {
        return new CoreMetricsExtractor(spec.name(), MetricMappings.of(labelKey, defaultEngine, engines));
      } catch (IllegalArgumentException e) {
        String parameter = e.getMessage().startsWith("default engine") ? "defaultEngine" : "engineConfigs";
        throw new PluginConfigException(e.getMessage(), parameter);
      }
    }

    private static EngineMapping engine(Parameters c, String path) {
      String name = c.getString("name", "");
      if (name.isBlank()) {
        throw new PluginConfigException("parameter '" + path + ".name' is required", path + ".name");
      }
      if (name.equals(MetricMappings.RESERVED_ENGINE_NAME)) {
        throw new PluginConfigException(
            "parameter '" + path + ".name': engine name '" + name + "' is reserved", path + ".name");
      }
      EngineMapping.Builder b = EngineMapping.builder(name);
      spec(c, path, "queuedRequestsSpec", b::queuedRequests);
      spec(c, path, "runningRequestsSpec", b::runningRequests);
      spec(c, path, "kvUsageSpec", b::kvUsage);
      spec(c, path, "loraSpec", b::lora);
      spec(c, path, "cacheInfoSpec", b::cacheInfo);
      spec(c, path, "cacheBlockSizeSpec", b::cacheBlockSize);
      spec(c, path, "cacheNumBlocksSpec", b::cacheNumBlocks);
      b.cacheBlockSizeLabel(c.getString("cacheBlockSizeLabelName", ""));
      b.cacheNumBlocksLabel(c.getString("cacheNumBlocksLabelName", ""));
      return b.build();
    }

    private static void spec(
        Parameters c, String path, String key, java.util.function.Function<String, EngineMapping.Builder> setter) {
      String value = c.getString(key, "");
      try {
        setter.apply(value);
      } catch (IllegalArgumentException e) {
        throw new PluginConfigException(
            "parameter '" + path + "." + key + "': " + e.getMessage(), path + "." + key);
      }
    }
  }
}
