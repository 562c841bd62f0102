package dev.epp.testkit;

import static org.junit.jupiter.api.Assertions.assertThrows;

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
import java.util.BitSet;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/** The contract kits catch broken plugins. */
class ContractKitTest {

  private static final TypedName NAME = TypedName.of("broken");

  @Test
  void scorerContractCatchesOutOfRangeScores() {
    ScorerContract<Scorer> contract = () -> scorer((context, candidates, scores) -> {
      for (int i = 0; i < candidates.size(); i++) {
        scores[i] = i + 0.5;
      }
    });
    assertThrows(AssertionError.class, contract::scoresEveryCandidateInUnitInterval);
    assertThrows(AssertionError.class, contract::isSafeToCallConcurrently);
  }

  @Test
  void scorerContractCatchesWritesBeyondTheCandidates() {
    ScorerContract<Scorer> contract = () -> scorer((context, candidates, scores) -> scores[candidates.size()] = 1);
    assertThrows(AssertionError.class, contract::emptyCandidatesWriteNothing);
  }

  @Test
  void filterContractCatchesBitsBeyondTheCandidates() {
    FilterContract<Filter> contract = () -> filter((context, candidates, keep) -> keep.clear());
    assertThrows(AssertionError.class, contract::onlyClearsBitsOfCandidates);
    FilterContract<Filter> setter = () -> filter((context, candidates, keep) -> keep.set(candidates.size()));
    assertThrows(AssertionError.class, setter::acceptsSingleCandidate);
  }

  @Test
  void pickerContractCatchesRepeatedAndMissingPicks() {
    PickerContract<Picker> repeats = () -> picker((context, candidates, scores, picked) -> {
      int count = Math.min(2, candidates.size());
      for (int i = 0; i < count; i++) {
        picked[i] = 0;
      }
      return count;
    });
    assertThrows(AssertionError.class, repeats::picksDistinctCandidatesInRange);
    PickerContract<Picker> none = () -> picker((context, candidates, scores, picked) -> 0);
    assertThrows(AssertionError.class, none::picksTheOnlyCandidate);
  }

  @Test
  void pluginContractCatchesFactoriesThatSwallowUnknownParameters() {
    PluginContract contract =
        new PluginContract() {
          @Override
          public PluginFactory factory() {
            return ContractKitTest.factory("broken", Parameters::markAllRead);
          }
        };
    assertThrows(AssertionError.class, contract::factoryRejectsUnknownParameter);
  }

  @Test
  void pluginContractPassesAFactoryThatReadsOnlyItsOwnParameters() {
    PluginContract contract =
        new PluginContract() {
          @Override
          public PluginFactory factory() {
            return ContractKitTest.factory("weighted", parameters -> parameters.getInt("weight", 1));
          }

          @Override
          public Parameters validParameters() {
            return Parameters.of(Map.of("weight", 2));
          }
        };
    contract.factoryTypeIsKebabCase();
    contract.factoryCreatesPluginWithTheSpecsTypeAndName();
    contract.factoryRejectsUnknownParameter();
  }

  /** A factory of {@code type} that reads the spec's parameters with {@code reader}. */
  private static PluginFactory factory(String type, Consumer<Parameters> reader) {
    return new PluginFactory() {
      @Override
      public String type() {
        return type;
      }

      @Override
      public Plugin create(PluginSpec spec, PluginHandle handle) {
        reader.accept(spec.parameters());
        return () -> spec.typedName();
      }
    };
  }

  private interface ScoreFunction {
    void score(RequestContext context, Candidates candidates, double[] scores);
  }

  private interface FilterFunction {
    void filter(RequestContext context, Candidates candidates, BitSet keep);
  }

  private interface PickFunction {
    int pick(RequestContext context, Candidates candidates, double[] scores, int[] picked);
  }

  private static Scorer scorer(ScoreFunction function) {
    return new Scorer() {
      @Override
      public TypedName typedName() {
        return NAME;
      }

      @Override
      public void score(RequestContext context, Candidates candidates, double[] scores) {
        function.score(context, candidates, scores);
      }
    };
  }

  private static Filter filter(FilterFunction function) {
    return new Filter() {
      @Override
      public TypedName typedName() {
        return NAME;
      }

      @Override
      public void filter(RequestContext context, Candidates candidates, BitSet keep) {
        function.filter(context, candidates, keep);
      }
    };
  }

  private static Picker picker(PickFunction function) {
    return new Picker() {
      @Override
      public TypedName typedName() {
        return NAME;
      }

      @Override
      public int pick(RequestContext context, Candidates candidates, double[] scores, int[] picked) {
        return function.pick(context, candidates, scores, picked);
      }
    };
  }
}
