package dev.epp.scheduler.plugins;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class GoDurationsTest {

  @Test
  void parsesGoDurations() {
    assertEquals(Duration.ofMillis(200).toNanos(), GoDurations.parseNanos("200ms"));
    assertEquals(Duration.ofSeconds(1).toNanos(), GoDurations.parseNanos("1s"));
    assertEquals(Duration.ofMillis(1500).toNanos(), GoDurations.parseNanos("1.5s"));
    assertEquals(Duration.ofMillis(500).toNanos(), GoDurations.parseNanos(".5s"));
    assertEquals(Duration.ofMinutes(2).toNanos(), GoDurations.parseNanos("2m"));
    assertEquals(Duration.ofMinutes(90).toNanos(), GoDurations.parseNanos("1h30m"));
    assertEquals(300_000, GoDurations.parseNanos("300us"));
    assertEquals(300_000, GoDurations.parseNanos("300\u00b5s"));
    assertEquals(300_000, GoDurations.parseNanos("300\u03bcs"));
    assertEquals(7, GoDurations.parseNanos("7ns"));
    assertEquals(1, GoDurations.parseNanos("1.9ns"));
    assertEquals(0, GoDurations.parseNanos("0"));
    assertEquals(5_000_000_000L, GoDurations.parseNanos("+5s"));
    assertEquals(-5_000_000_000L, GoDurations.parseNanos("-5s"));
  }

  @Test
  void rejectsWhatGoRejects() {
    String[] invalid = {"", "-", "200", "1.5", "s", "1x", "1..5s", "1e3s", "1s 2ms", "ms5", "9999999999h"};
    for (String text : invalid) {
      assertThrows(IllegalArgumentException.class, () -> GoDurations.parseNanos(text), text);
    }
  }
}
