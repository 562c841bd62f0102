package dev.epp.examples.logging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.event.Level;

/** What the example commands' SLF4J binding writes for each setting. */
class EppLoggerTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private final Logger log = LoggerFactory.getLogger("dev.epp.server.EppServer");

  @AfterEach
  void restoreDefaults() {
    Logs.configure(LogSettings.DEFAULT);
  }

  private static List<String> logged(LogSettings settings, Runnable events) {
    Logs.configure(settings);
    PrintStream stderr = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      events.run();
    } finally {
      System.setErr(stderr);
    }
    return captured.toString(StandardCharsets.UTF_8).lines().toList();
  }

  @Test
  void theSlf4jBindingIsThisOne() {
    assertTrue(LoggerFactory.getILoggerFactory().getLogger("x") instanceof EppLogger);
  }

  @Test
  void jsonLinesCarryZapsKeysAndTheExceptionFromTheStacktraceLevel() throws IOException {
    List<String> lines = logged(new LogSettings(Level.INFO, true, LogSettings.TimeEncoding.EPOCH, Level.ERROR), () -> {
      log.debug("hidden");
      log.info("pool {} has {} \"endpoints\"", "p\n1", 3);
      log.warn("scrape failed", new IllegalStateException("refused"));
      log.error("cannot start", new IllegalStateException("port taken"));
    });
    assertEquals(3, lines.size(), lines.toString());
    JsonNode info = JSON.readTree(lines.get(0));
    assertEquals("info", info.get("level").asText());
    assertTrue(info.get("ts").isNumber());
    assertEquals("dev.epp.server.EppServer", info.get("logger").asText());
    assertEquals("pool p\n1 has 3 \"endpoints\"", info.get("msg").asText());
    JsonNode warn = JSON.readTree(lines.get(1));
    assertEquals("java.lang.IllegalStateException: refused", warn.get("error").asText());
    assertFalse(warn.has("stacktrace"), "below the stacktrace level");
    JsonNode error = JSON.readTree(lines.get(2));
    assertEquals("error", error.get("level").asText());
    assertTrue(error.get("stacktrace").asText().contains("at dev.epp.examples.logging.EppLoggerTest"),
        error.toString());
  }

  @Test
  void timeEncodings() throws IOException {
    for (LogSettings.TimeEncoding time : LogSettings.TimeEncoding.values()) {
      String line = logged(new LogSettings(Level.INFO, true, time, null), () -> log.info("x")).get(0);
      JsonNode ts = JSON.readTree(line).get("ts");
      String pattern = switch (time) {
        case EPOCH -> "\\d{10}\\.\\d{9}";
        case MILLIS -> "\\d{13}\\.\\d{6}";
        case NANO -> "\\d{19}";
        case ISO8601 -> "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z";
        case RFC3339 -> "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ";
        case RFC3339NANO -> "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?Z";
      };
      boolean number = time.ordinal() <= LogSettings.TimeEncoding.NANO.ordinal();
      assertEquals(number, ts.isNumber(), line);
      String quote = number ? "" : "\"";
      assertTrue(line.matches(".*\"ts\":" + quote + pattern + quote + ",.*"), time + ": " + line);
    }
  }

  @Test
  void consoleLinesAsBeforeWithTheStackTraceFromWarn() {
    List<String> lines = logged(LogSettings.DEFAULT, () -> {
      log.info("started");
      log.warn("scrape failed", new IllegalStateException("refused"));
    });
    assertTrue(lines.get(0).matches("\\d{4}-\\d\\d-\\d\\dT\\S+ INFO EppServer - started"), lines.get(0));
    assertTrue(lines.get(1).endsWith(" WARN EppServer - scrape failed"), lines.get(1));
    assertEquals("java.lang.IllegalStateException: refused", lines.get(2));
  }

  @Test
  void javaUtilLoggingRecordsBecomeTheSameJsonLines() throws IOException {
    JavaUtilLogging.toSlf4j();
    java.util.logging.Logger grpc = java.util.logging.Logger.getLogger("io.grpc.netty.Example");
    List<String> lines = logged(new LogSettings(Level.INFO, true, LogSettings.TimeEncoding.EPOCH, Level.ERROR),
        () -> {
          grpc.log(java.util.logging.Level.WARNING, "stream {0} failed", 7);
          grpc.fine("hidden below INFO");
        });
    assertEquals(1, lines.size(), lines.toString());
    JsonNode warn = JSON.readTree(lines.get(0));
    assertEquals("warn", warn.get("level").asText());
    assertEquals("io.grpc.netty.Example", warn.get("logger").asText());
    assertEquals("stream 7 failed", warn.get("msg").asText());
  }

  @Test
  void nothingIsWrittenAtPanic() {
    assertEquals(List.of(), logged(new LogSettings(null, true, LogSettings.TimeEncoding.EPOCH, null),
        () -> log.error("x")));
  }
}
