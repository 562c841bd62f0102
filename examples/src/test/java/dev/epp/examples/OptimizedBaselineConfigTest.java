package dev.epp.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.epp.api.Plugin;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.scheduler.SchedulingProfile;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code configs/optimized-baseline.yaml}, llm-d's optimized baseline, loads as shipped with the default registry. */
class OptimizedBaselineConfigTest {

  /** The shipped file, relative to this module. */
  static final Path FILE = Path.of("configs", "optimized-baseline.yaml");

  @Test
  void loadsWithTheAffinityFilterAndTheTokenLoadScorerInOneProfile() {
    EndpointPickerConfig config = EndpointPickerConfig.loader().load(FILE);

    for (String type : List.of("token-load-scorer", "inflight-load-producer", "approx-prefix-cache-producer",
        "prefix-cache-affinity-filter")) {
      assertEquals(type, config.plugin(type).orElseThrow().typedName().type());
    }
    assertEquals(1, config.profiles().size());
    SchedulingProfile profile = config.profiles().get(0);
    assertEquals("default", profile.name());
    assertEquals(List.of("prefix-cache-affinity-filter"),
        profile.filters().stream().map(f -> ((Plugin) f).typedName().type()).toList());
    assertEquals(1, profile.scorers().size());
    assertEquals("token-load-scorer", profile.scorers().get(0).scorer().typedName().type());
    assertEquals(1.0, profile.scorers().get(0).weight());
    assertEquals("max-score-picker", profile.picker().typedName().type());
  }
}
