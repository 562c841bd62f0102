package dev.epp.metrics.scrape;

import dev.epp.api.Endpoint;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The engine mappings of a pool and how an endpoint's engine is chosen: by the value of its label
 * {@link #engineLabelKey()}; a missing, empty or unknown value selects {@link #defaultEngine()}.
 *
 * <p><b>Threading:</b> immutable and thread-safe.
 */
public final class MetricMappings {

  /** The pod label naming an endpoint's engine, as in the Go EPP. */
  public static final String DEFAULT_ENGINE_LABEL_KEY = "inference.networking.k8s.io/engine-type";

  /** The engine of endpoints without a (known) engine label. */
  public static final String DEFAULT_ENGINE = "vllm";

  /** The engine name the Go EPP reserves for its default-engine alias; not allowed as an engine name. */
  public static final String RESERVED_ENGINE_NAME = "default";

  private static final MetricMappings DEFAULTS =
      of(DEFAULT_ENGINE_LABEL_KEY, DEFAULT_ENGINE, List.of());

  private final String engineLabelKey;
  private final EngineMapping defaultMapping;
  private final Map<String, EngineMapping> byName;

  private MetricMappings(String engineLabelKey, EngineMapping defaultMapping, Map<String, EngineMapping> byName) {
    this.engineLabelKey = engineLabelKey;
    this.defaultMapping = defaultMapping;
    this.byName = byName;
  }

  /** The built-in engines, selected by {@value #DEFAULT_ENGINE_LABEL_KEY}, default {@value #DEFAULT_ENGINE}. */
  public static MetricMappings defaults() {
    return DEFAULTS;
  }

  /**
   * Mappings made of {@code engines} followed by every {@link EngineMapping#builtIns() built-in} whose name is not
   * among them (a configured engine replaces the built-in of the same name).
   *
   * @throws IllegalArgumentException if the label key is blank, an engine name repeats or is
   *     {@value #RESERVED_ENGINE_NAME}, or {@code defaultEngine} names no engine
   */
  public static MetricMappings of(String engineLabelKey, String defaultEngine, List<EngineMapping> engines) {
    Objects.requireNonNull(engineLabelKey, "engineLabelKey");
    Objects.requireNonNull(defaultEngine, "defaultEngine");
    if (engineLabelKey.isBlank()) {
      throw new IllegalArgumentException("engine label key must not be blank");
    }
    Map<String, EngineMapping> byName = new LinkedHashMap<>();
    for (EngineMapping engine : engines) {
      if (engine.name().equals(RESERVED_ENGINE_NAME)) {
        throw new IllegalArgumentException("engine name '" + RESERVED_ENGINE_NAME + "' is reserved");
      }
      if (byName.putIfAbsent(engine.name(), engine) != null) {
        throw new IllegalArgumentException("engine '" + engine.name() + "' is configured twice");
      }
    }
    for (EngineMapping builtIn : EngineMapping.builtIns()) {
      byName.putIfAbsent(builtIn.name(), builtIn);
    }
    EngineMapping defaultMapping = byName.get(defaultEngine);
    if (defaultMapping == null) {
      throw new IllegalArgumentException(
          "default engine '" + defaultEngine + "' is not one of " + byName.keySet());
    }
    return new MetricMappings(engineLabelKey, defaultMapping, Collections.unmodifiableMap(byName));
  }

  /** The endpoint label whose value names the engine. */
  public String engineLabelKey() {
    return engineLabelKey;
  }

  /** The name of the engine used when an endpoint's label names none. */
  public String defaultEngine() {
    return defaultMapping.name();
  }

  /** The mapping of the engine named {@code name}. */
  public Optional<EngineMapping> engine(String name) {
    return Optional.ofNullable(byName.get(name));
  }

  /** Every engine mapping: the configured ones, then the remaining built-ins. */
  public List<EngineMapping> engines() {
    return List.copyOf(byName.values());
  }

  /** The mapping for {@code endpoint}, chosen by its engine label. */
  public EngineMapping forEndpoint(Endpoint endpoint) {
    String engine = endpoint.labels().get(engineLabelKey);
    EngineMapping mapping = engine == null ? null : byName.get(engine);
    return mapping != null ? mapping : defaultMapping;
  }
}
