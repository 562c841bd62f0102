package dev.epp.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class GoDurationTest {

  @Test
  void parsesGoDurations() {
    assertEquals(Duration.ofMillis(200).toNanos(), GoDuration.parse("200ms").toNanos());
    assertEquals(Duration.ofSeconds(1).toNanos(), GoDuration.parse("1s").toNanos());
    assertEquals(Duration.ofMillis(1500).toNanos(), GoDuration.parse("1.5s").toNanos());
    assertEquals(Duration.ofMillis(500).toNanos(), GoDuration.parse(".5s").toNanos());
    assertEquals(Duration.ofMinutes(2).toNanos(), GoDuration.parse("2m").toNanos());
    assertEquals(Duration.ofMinutes(90).toNanos(), GoDuration.parse("1h30m").toNanos());
    assertEquals(300_000, GoDuration.parse("300us").toNanos());
    assertEquals(300_000, GoDuration.parse("300\u00b5s").toNanos());
    assertEquals(300_000, GoDuration.parse("300\u03bcs").toNanos());
    assertEquals(7, GoDuration.parse("7ns").toNanos());
    assertEquals(1, GoDuration.parse("1.9ns").toNanos());
    assertEquals(0, GoDuration.parse("0").toNanos());
    assertEquals(5_000_000_000L, GoDuration.parse("+5s").toNanos());
    assertEquals(-5_000_000_000L, GoDuration.parse("-5s").toNanos());
  }

  @Test
  void rejectsWhatGoRejects() {
    String[] invalid = {"", "-", "200", "1.5", "s", "1x", "1..5s", "1e3s", "1s 2ms", "ms5", "9999999999h"};
    for (String text : invalid) {
      assertThrows(IllegalArgumentException.class, () -> GoDuration.parse(text), text);
    }
  }
}
