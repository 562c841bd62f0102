package dev.epp.scheduler;

import dev.epp.api.Plugin;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.TypedName;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.Filter;
import dev.epp.api.scheduling.Picker;
import dev.epp.api.scheduling.ProfileHandler;
import dev.epp.api.scheduling.ProfileResult;
import dev.epp.api.scheduling.SchedulingResult;
import dev.epp.api.scheduling.Scorer;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/** Test-only plugins for configuration and scheduler tests, registered next to the built-ins. */
final class TestPlugins {

  private TestPlugins() {}

  /** The built-in registry plus the test plugin types below. */
  static PluginRegistry registry() {
    PluginRegistry registry = PluginRegistry.load(TestPlugins.class.getClassLoader());
    registry.register(factory("test-scorer", spec -> {
      int blockSize = spec.parameters().getInt("blockSize", 16);
      return new ConstantScorer(spec.typedName(), blockSize / 100.0);
    }));
    registry.register(factory("test-filter", spec -> new KeepFirstFilter(spec.typedName())));
    registry.register(factory("test-filter-scorer", spec -> new FilterScorer(spec.typedName())));
    registry.register(factory("test-picker", spec -> new LastPicker(spec.typedName())));
    registry.register(factory("test-profile-handler", spec -> new AllProfilesHandler(spec.typedName())));
    return registry;
  }

  static PluginFactory factory(String type, Function<PluginSpec, Plugin> create) {
    return new PluginFactory() {
      @Override
      public String type() {
        return type;
      }

      @Override
      public Plugin create(PluginSpec spec, PluginHandle handle) {
        return create.apply(spec);
      }
    };
  }

  /** Scores every candidate with one constant. */
  record ConstantScorer(TypedName typedName, double value) implements Scorer {
    @Override
    public void score(RequestContext context, Candidates candidates, double[] scores) {
      java.util.Arrays.fill(scores, 0, candidates.size(), value);
    }
  }

  /** Keeps only the first candidate. */
  record KeepFirstFilter(TypedName typedName) implements Filter {
    @Override
    public void filter(RequestContext context, Candidates candidates, BitSet keep) {
      keep.clear(1, candidates.size());
    }
  }

  /** A filter that keeps everyone and a scorer that scores by index; both extension points in one plugin. */
  record FilterScorer(TypedName typedName) implements Filter, Scorer {
    @Override
    public void filter(RequestContext context, Candidates candidates, BitSet keep) {}

    @Override
    public void score(RequestContext context, Candidates candidates, double[] scores) {
      for (int i = 0; i < candidates.size(); i++) {
        scores[i] = i / (double) candidates.size();
      }
    }
  }

  /** Picks the last candidate. */
  record LastPicker(TypedName typedName) implements Picker {
    @Override
    public int pick(RequestContext context, Candidates candidates, double[] scores, int[] picked) {
      picked[0] = candidates.size() - 1;
      return 1;
    }
  }

  /** Runs every profile once; the primary is the first profile with targets. */
  record AllProfilesHandler(TypedName typedName) implements ProfileHandler {
    @Override
    public List<String> pickProfiles(
        RequestContext context, List<String> profiles, Map<String, ProfileResult> results) {
      return results.isEmpty() ? profiles : List.of();
    }

    @Override
    public SchedulingResult processResults(RequestContext context, Map<String, ProfileResult> results) {
      for (Map.Entry<String, ProfileResult> e : results.entrySet()) {
        if (!e.getValue().isEmpty()) {
          return new SchedulingResult(e.getKey(), results);
        }
      }
      throw new dev.epp.api.InferenceException(
          dev.epp.api.InferenceException.Code.RESOURCE_EXHAUSTED, "no profile found an endpoint");
    }
  }
}
