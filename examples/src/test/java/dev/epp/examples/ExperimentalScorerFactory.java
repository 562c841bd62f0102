package dev.epp.examples;

import dev.epp.api.Plugin;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.TypedName;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.Scorer;
import java.util.Arrays;

/** A test-only plugin type marked experimental (Alpha), found by {@code ServiceLoader} on the test classpath. */
public final class ExperimentalScorerFactory implements PluginFactory {

  static final String TYPE = "test-experimental-scorer";

  public ExperimentalScorerFactory() {}

  @Override
  public String type() {
    return TYPE;
  }

  @Override
  public Plugin create(PluginSpec spec, PluginHandle handle) {
    TypedName name = spec.typedName();
    return new Scorer() {
      @Override
      public TypedName typedName() {
        return name;
      }

      @Override
      public void score(RequestContext context, Candidates candidates, double[] scores) {
        Arrays.fill(scores, 0, candidates.size(), 1.0);
      }
    };
  }

  @Override
  public boolean experimental() {
    return true;
  }
}
