package dev.epp.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import dev.epp.api.Plugin;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.scheduler.SchedulingProfile;
import dev.epp.scheduler.plugins.disagg.DisaggProfileHandler;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code configs/pd.yaml}, llm-d's prefill/decode sample, loads as shipped and is what {@code demo --pd} packages. */
class PdConfigTest {

  /** The shipped file, relative to this module. */
  static final Path FILE = Path.of("configs", "pd.yaml");

  @Test
  void loadsWithADecodeAndAPrefillProfileAndThePrefixBasedDecider() {
    EndpointPickerConfig config = EndpointPickerConfig.loader().load(FILE);

    assertInstanceOf(DisaggProfileHandler.class, config.profileHandler());
    for (String type : List.of("approx-prefix-cache-producer", "prefix-cache-scorer", "queue-scorer",
        "prefill-filter", "decode-filter", "max-score-picker", "prefix-based-pd-decider")) {
      assertEquals(type, config.plugin(type).orElseThrow().typedName().type());
    }
    assertEquals(List.of("prefill", "decode"), config.profiles().stream().map(SchedulingProfile::name).toList());
    for (SchedulingProfile profile : config.profiles()) {
      String filter = profile.name() + "-filter";
      assertEquals(List.of(filter), profile.filters().stream().map(f -> ((Plugin) f).typedName().type()).toList());
      assertEquals(List.of("prefix-cache-scorer", "queue-scorer"),
          profile.scorers().stream().map(s -> s.scorer().typedName().type()).toList());
      assertEquals(List.of(2.0, 1.0), profile.scorers().stream().map(SchedulingProfile.WeightedScorer::weight)
          .toList());
      assertEquals("max-score-picker", profile.picker().typedName().type());
    }
  }

  @Test
  void theDemoPackagesTheShippedFileUnchanged() throws Exception {
    try (InputStream packaged = DemoCommand.class.getResourceAsStream(DemoCommand.PD_CONFIG)) {
      assertEquals(Files.readString(FILE), new String(packaged.readAllBytes(), StandardCharsets.UTF_8));
    }
  }
}
