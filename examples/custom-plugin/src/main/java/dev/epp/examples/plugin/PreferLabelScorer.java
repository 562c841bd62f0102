package dev.epp.examples.plugin;

import dev.epp.api.Plugin;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.TypedName;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.Scorer;

/**
 * Scores 1 for endpoints that carry a label (parameter {@code label}, default {@code gpu}; any value) and 0 for the
 * rest: type {@code prefer-label-scorer}.
 *
 * <p><b>Threading:</b> immutable, so thread-safe.
 */
public final class PreferLabelScorer implements Scorer {
  private final TypedName name;
  private final String label;

  PreferLabelScorer(TypedName name, String label) { this.name = name; this.label = label; }

  @Override public TypedName typedName() { return name; }

  @Override public void score(RequestContext context, Candidates candidates, double[] scores) {
    for (int i = 0; i < candidates.size(); i++) {
      scores[i] = candidates.endpoint(i).labels().containsKey(label) ? 1.0 : 0.0;
    }
  }

  /** Creates {@code prefer-label-scorer}s; registered in {@code META-INF/services} and {@code module-info}. */
  public static final class Factory implements PluginFactory {
    @Override public String type() { return "prefer-label-scorer"; }
    @Override public Plugin create(PluginSpec spec, PluginHandle handle) {
      return new PreferLabelScorer(spec.typedName(), spec.parameters().getString("label", "gpu"));
    }
  }
}
