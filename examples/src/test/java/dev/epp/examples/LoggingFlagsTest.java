package dev.epp.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.examples.logging.LogSettings;
import dev.epp.examples.logging.LogSettings.TimeEncoding;
import dev.epp.examples.logging.Logs;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.event.Level;

/** The Go EPP's logging flags as the charts pass them, and the server's refusals of flags it cannot honour. */
class LoggingFlagsTest {

  @AfterEach
  void restoreDefaults() {
    Logs.configure(LogSettings.DEFAULT);
  }

  private static LogSettings parse(String... args) throws Cli.UsageException {
    Cli cli = new Cli("test", "test");
    LoggingFlags flags = new LoggingFlags(cli);
    assertTrue(cli.parse(args));
    return flags.settings();
  }

  @Test
  void defaultsAreGoDevelopmentModeAtVerbosityTwo() throws Exception {
    assertEquals(LogSettings.DEFAULT, parse());
  }

  @Test
  void verbosityMapsOntoLevelsInEveryChartSpelling() throws Exception {
    assertEquals(Level.INFO, parse("--v", "1").threshold());
    assertEquals(Level.INFO, parse("-v", "2").threshold());
    assertEquals(Level.DEBUG, parse("-v=3").threshold());
    assertEquals(Level.DEBUG, parse("--v=4").threshold());
    assertEquals(Level.TRACE, parse("--v", "5").threshold());
  }

  @Test
  void zapLogLevelOverridesVerbosity() throws Exception {
    assertEquals(Level.ERROR, parse("--v=5", "--zap-log-level=error").threshold());
    assertEquals(Level.DEBUG, parse("--zap-log-level", "debug").threshold());
    assertEquals(Level.DEBUG, parse("--zap-log-level=4").threshold());
    assertNull(parse("--zap-log-level=panic").threshold(), "panic: none of this EPP's events");
    Cli.UsageException bad = assertThrows(Cli.UsageException.class, () -> parse("--zap-log-level=loud"));
    assertEquals("invalid value \"loud\" for --zap-log-level: expected debug, info, warn, error, panic or an integer "
        + "1..127", bad.getMessage());
  }

  @Test
  void productionModeWritesJsonWithEpochTimesUnlessTold() throws Exception {
    LogSettings production = parse("--zap-devel=false");
    assertTrue(production.json());
    assertEquals(TimeEncoding.EPOCH, production.time());
    assertEquals(Level.ERROR, production.stacktraceLevel());
    LogSettings chart = parse("--zap-encoder", "json");
    assertTrue(chart.json());
    assertEquals(TimeEncoding.ISO8601, chart.time());
    LogSettings console = parse("--zap-devel=false", "--zap-encoder=console", "--zap-time-encoding=rfc3339nano",
        "--zap-stacktrace-level=info");
    assertFalse(console.json());
    assertEquals(TimeEncoding.RFC3339NANO, console.time());
    assertEquals(Level.INFO, console.stacktraceLevel());
    assertNull(parse("--zap-stacktrace-level=panic").stacktraceLevel());
  }

  @Test
  void serverRefusesFlagsItCannotHonourWithOneLine() {
    for (String flag : List.of("total-queued-requests-metric", "total-running-requests-metric",
        "kv-cache-usage-percentage-metric", "lora-info-metric", "cache-info-metric")) {
      assertUsage("server: flag \"" + flag + "\" is deprecated and cannot be used; configure metrics via "
          + "engineConfigs in EndpointPickerConfig instead (see --help)", "--endpoints=10.0.0.1:8000",
          "--" + flag + "=vllm:x");
    }
    // the chart renders the empty LoRA metric of Triton as a separate argument
    assertUsage("server: flag \"lora-info-metric\" is deprecated and cannot be used; configure metrics via "
        + "engineConfigs in EndpointPickerConfig instead (see --help)", "--endpoints=10.0.0.1:8000",
        "--lora-info-metric", "");
    assertUsage("server: invalid value \"xml\" for --zap-encoder: expected one of , json, console (see --help)",
        "--endpoints=10.0.0.1:8000", "--zap-encoder=xml");
  }

  private static void assertUsage(String expected, String... args) {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    ServerCommand command = new ServerCommand(new PrintStream(new ByteArrayOutputStream(), true,
        StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8), Map.of());
    assertEquals(2, command.run(args), String.join(" ", args));
    assertEquals(List.of(expected), err.toString(StandardCharsets.UTF_8).lines().toList());
  }
}
