package dev.epp.scheduler.plugins.objectives;

import dev.epp.api.Parameters;
import dev.epp.api.Plugin;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.TypedName;
import dev.epp.api.requestcontrol.Objectives;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Objective priorities given in the configuration file, for deployments without Kubernetes
 * {@code InferenceObjective}s: parameter {@code objectives}, a map from objective name (the
 * {@code x-gateway-inference-objective} header) to integer priority; a priority below 0 makes requests sheddable.
 * Unknown objectives have priority 0. Not a Go EPP plugin type.
 *
 * <pre>{@code
 * - type: static-objectives
 *   parameters:
 *     objectives: {sql-lora: 2, batch-jobs: -1}
 * }</pre>
 */
public final class StaticObjectives implements Plugin, Objectives {

  /** The plugin type. */
  public static final String TYPE = "static-objectives";

  private final TypedName typedName;
  private final Map<String, Integer> priorities;

  /** Objectives named {@code name} with the given priorities. */
  public StaticObjectives(String name, Map<String, Integer> priorities) {
    this.typedName = new TypedName(TYPE, name);
    this.priorities = Map.copyOf(priorities);
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public int priority(String name) {
    return priorities.getOrDefault(name, 0);
  }

  /** Creates {@link StaticObjectives}. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public StaticObjectives create(PluginSpec spec, PluginHandle handle) {
      Parameters objectives = spec.parameters().getParameters("objectives");
      Map<String, Integer> priorities = new LinkedHashMap<>();
      for (String name : objectives.asMap().keySet()) {
        priorities.put(name, objectives.getInt(name, 0));
      }
      return new StaticObjectives(spec.name(), priorities);
    }
  }
}
