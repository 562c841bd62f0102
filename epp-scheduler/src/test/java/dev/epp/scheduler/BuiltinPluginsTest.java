package dev.epp.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.junit.jupiter.api.DynamicContainer.dynamicContainer;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import com.sun.management.ThreadMXBean;
import dev.epp.api.Parameters;
import dev.epp.api.Plugin;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.TypedName;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.Filter;
import dev.epp.api.scheduling.Picker;
import dev.epp.api.scheduling.Scorer;
import dev.epp.scheduler.plugins.load.InFlightHandles;
import dev.epp.testkit.FilterContract;
import dev.epp.testkit.Fixtures;
import dev.epp.testkit.PickerContract;
import dev.epp.testkit.PluginContract;
import dev.epp.testkit.ScorerContract;
import java.lang.management.ManagementFactory;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/** The plugins this module registers through {@link java.util.ServiceLoader}, each checked against its contract. */
class BuiltinPluginsTest {

  private static final int MEASURED_CALLS = 10_000;

  private static final Set<String> BUILTIN_TYPES =
      Set.of(
          "queue-scorer",
          "running-requests-size-scorer",
          "kv-cache-utilization-scorer",
          "lora-affinity-scorer",
          "max-score-picker",
          "random-picker",
          "weighted-random-picker",
          "single-profile-handler",
          "header-based-testing-filter",
          "label-selector-filter",
          "utilization-detector",
          "openai-parser",
          "passthrough-parser",
          "anthropic-parser",
          "vllmhttp-parser",
          "prefix-cache-scorer",
          "prefix-cache-affinity-filter",
          "approx-prefix-cache-producer",
          "inflight-load-producer",
          "token-load-scorer",
          "active-request-scorer",
          "load-aware-scorer",
          "concurrency-detector",
          "session-affinity-filter",
          "session-affinity-scorer",
          "session-id-producer",
          "agent-identity",
          "header-label-affinity-scorer",
          "context-length-aware",
          "no-hit-lru-scorer",
          "utilization-filter",
          "probabilistic-admitter",
          "by-label",
          "static-objectives",
          "prefill-filter",
          "decode-filter",
          "encode-filter",
          "prefix-based-pd-decider",
          "always-disagg-pd-decider",
          "always-disagg-multimodal-decider",
          "disagg-profile-handler",
          "pd-profile-handler",
          "disagg-headers-handler",
          "prefill-header-handler",
          "global-strict-fairness-policy",
          "round-robin-fairness-policy",
          "fcfs-ordering-policy",
          "edf-ordering-policy",
          "slo-deadline-ordering-policy",
          "static-usage-limit-policy");

  private final PluginRegistry registry = PluginRegistry.load(getClass().getClassLoader());

  @Test
  void registersExactlyTheBuiltinTypes() {
    assertEquals(BUILTIN_TYPES, registry.types());
  }

  /**
   * Scorers, filters and pickers allocate nothing per call once warm: any per-call allocation would show as at least
   * 16 bytes × {@value #MEASURED_CALLS}.
   */
  @Test
  void requestPathAllocatesNothing() {
    ThreadMXBean threads = (ThreadMXBean) ManagementFactory.getThreadMXBean();
    assumeTrue(threads.isThreadAllocatedMemoryEnabled(), "the JVM does not measure thread allocation");
    RequestContext context =
        Fixtures.context(Fixtures.ADAPTER, Map.of("test-epp-endpoint-selection", "192.168.1.2, 192.168.1.4:8000"));
    Candidates candidates = Fixtures.skewed();
    double[] scores = {0.5, 1.5, 0.0, 1.5, 2.0, 0.25};
    double[] out = new double[candidates.size()];
    int[] picked = new int[candidates.size()];
    BitSet keep = new BitSet(candidates.size());
    List<Plugin> plugins = new ArrayList<>();
    for (String type : registry.types()) {
      plugins.add(create(registry.factory(type).orElseThrow(), defaultParameters(type)));
      if (type.endsWith("-picker")) {
        plugins.add(create(registry.factory(type).orElseThrow(), Parameters.of(Map.of("maxNumOfEndpoints", 3))));
      }
    }
    for (Plugin plugin : plugins) {
      Runnable call;
      if (plugin instanceof Scorer scorer) {
        call = () -> scorer.score(context, candidates, out);
      } else if (plugin instanceof Filter filter) {
        call = () -> {
          keep.set(0, candidates.size());
          filter.filter(context, candidates, keep);
        };
      } else if (plugin instanceof Picker picker) {
        call = () -> picker.pick(context, candidates, scores, picked);
      } else {
        continue;
      }
      for (int i = 0; i < 20 * MEASURED_CALLS; i++) {
        call.run();
      }
      long before = threads.getCurrentThreadAllocatedBytes();
      for (int i = 0; i < MEASURED_CALLS; i++) {
        call.run();
      }
      long allocated = threads.getCurrentThreadAllocatedBytes() - before;
      assertTrue(allocated < 4096, () -> plugin.typedName() + " allocated " + allocated + " bytes");
    }
  }

  /** For every registered type: creation with default parameters, then every check of the matching contract. */
  @TestFactory
  Stream<DynamicNode> everyBuiltinPluginMeetsItsContract() {
    return registry.types().stream().map(type -> dynamicContainer(type, checks(registry.factory(type).orElseThrow())));
  }

  private Stream<DynamicNode> checks(PluginFactory factory) {
    List<DynamicNode> checks = new ArrayList<>();
    checks.add(
        dynamicTest(
            "creates with default parameters",
            () -> {
              Plugin plugin = create(factory, defaultParameters(factory.type()));
              assertEquals(TypedName.of(factory.type()), plugin.typedName());
            }));
    PluginContract contract = contract(factory, create(factory, defaultParameters(factory.type())));
    for (Method method : contract.getClass().getInterfaces()[0].getMethods()) {
      if (method.isAnnotationPresent(Test.class)) {
        checks.add(dynamicTest(method.getName(), () -> invoke(method, contract)));
      }
    }
    return checks.stream();
  }

  /** The contract matching the plugin's extension point, creating fresh plugins through {@code factory}. */
  private PluginContract contract(PluginFactory factory, Plugin sample) {
    Parameters valid = validParameters(factory.type());
    if (sample instanceof Scorer) {
      return new ScorerContract<Scorer>() {
        @Override
        public Scorer newScorer() {
          return (Scorer) create(factory, defaultParameters(factory.type()));
        }

        @Override
        public PluginHandle newHandle() {
          return InFlightHandles.withDefaultProducer();
        }

        @Override
        public PluginFactory factory() {
          return factory;
        }

        @Override
        public Parameters validParameters() {
          return BuiltinPluginsTest.validParameters(factory.type());
        }
      };
    }
    if (sample instanceof Picker) {
      return new PickerContract<Picker>() {
        @Override
        public Picker newPicker() {
          return (Picker) create(factory, defaultParameters(factory.type()));
        }

        @Override
        public PluginFactory factory() {
          return factory;
        }

        @Override
        public Parameters validParameters() {
          return BuiltinPluginsTest.validParameters(factory.type());
        }
      };
    }
    if (sample instanceof Filter) {
      return new FilterContract<Filter>() {
        @Override
        public Filter newFilter() {
          return (Filter) create(factory, defaultParameters(factory.type()));
        }

        @Override
        public PluginHandle newHandle() {
          return InFlightHandles.withDefaultProducer();
        }

        @Override
        public PluginFactory factory() {
          return factory;
        }

        @Override
        public Parameters validParameters() {
          return BuiltinPluginsTest.validParameters(factory.type());
        }
      };
    }
    return new PluginContract() {
      @Override
      public PluginFactory factory() {
        return factory;
      }

      @Override
      public Parameters validParameters() {
        return valid;
      }
    };
  }

  private Plugin create(PluginFactory factory, Parameters parameters) {
    return registry.create(
        new PluginSpec(factory.type(), factory.type(), parameters), InFlightHandles.withDefaultProducer());
  }

  /** No parameters, except where a plugin cannot work without them. */
  private static Parameters defaultParameters(String type) {
    return switch (type) {
      case "label-selector-filter" -> Parameters.of(Map.of("matchLabels", Map.of("role", "decode")));
      case "session-id-producer" -> Parameters.of(Map.of("headerName", "x-session-id"));
      case "header-label-affinity-scorer" -> Parameters.of(Map.of("headerName", "x-zone", "labelKey", "zone"));
      case "by-label" -> Parameters.of(Map.of("label", "role", "validValues", List.of("decode")));
      case "pd-profile-handler" -> Parameters.of(Map.of("deciderPluginName", ""));
      case "static-usage-limit-policy" -> Parameters.of(Map.of("threshold", 0.8));
      case "utilization-filter" -> Parameters.of(Map.of("conditions",
          List.of(Map.of("metric", "active-requests", "maxValue", 3), Map.of("metric", "waiting-queue", "maxValue", 8))));
      default -> Parameters.empty();
    };
  }

  /** The default parameters, plus {@code maxNumOfEndpoints} for pickers so the contract checks it. */
  private static Parameters validParameters(String type) {
    return type.endsWith("-picker")
        ? Parameters.of(Map.of("maxNumOfEndpoints", 2))
        : defaultParameters(type);
  }

  private static void invoke(Method check, PluginContract contract) throws Throwable {
    try {
      check.invoke(contract);
    } catch (InvocationTargetException e) {
      throw e.getCause();
    }
  }
}
