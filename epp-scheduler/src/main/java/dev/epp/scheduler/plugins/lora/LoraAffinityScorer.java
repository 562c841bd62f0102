package dev.epp.scheduler.plugins.lora;

import dev.epp.api.EndpointMetrics;
import dev.epp.api.InferenceRequest;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.TypedName;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.Scorer;

/**
 * Prefers candidates that have, or can load, the request's LoRA adapter ({@link InferenceRequest#targetModel()}):
 *
 * <ul>
 *   <li>1.0 if the adapter is in {@link EndpointMetrics#activeModels()};
 *   <li>0.8 else if {@code activeModels.size() + waitingModels.size() < maxActiveModels} (room to load it);
 *   <li>0.6 else if the adapter is in {@link EndpointMetrics#waitingModels()};
 *   <li>0.0 otherwise.
 * </ul>
 *
 * <p>No parameters.
 */
public final class LoraAffinityScorer implements Scorer {

  /** The plugin type. */
  public static final String TYPE = "lora-affinity-scorer";

  private final TypedName typedName;

  /** A scorer named {@code name}. */
  public LoraAffinityScorer(String name) {
    this.typedName = new TypedName(TYPE, name);
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public void score(RequestContext context, Candidates candidates, double[] scores) {
    String adapter = context.request().targetModel();
    for (int i = 0, n = candidates.size(); i < n; i++) {
      EndpointMetrics m = candidates.metrics(i);
      double score;
      if (m.activeModels().contains(adapter)) {
        score = 1.0;
      } else if (m.activeModels().size() + m.waitingModels().size() < m.maxActiveModels()) {
        score = 0.8;
      } else if (m.waitingModels().contains(adapter)) {
        score = 0.6;
      } else {
        score = 0.0;
      }
      scores[i] = score;
    }
  }

  /** Creates {@link LoraAffinityScorer}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public LoraAffinityScorer create(PluginSpec spec, PluginHandle handle) {
      return new LoraAffinityScorer(spec.name());
    }
  }
}
