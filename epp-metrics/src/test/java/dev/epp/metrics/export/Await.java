package dev.epp.metrics.export;

import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/** Polls a condition until it holds or a generous deadline passes; never a fixed sleep as the assertion. */
final class Await {

  static final Duration DEADLINE = Duration.ofSeconds(30);

  private Await() {}

  static void until(String what, BooleanSupplier condition) {
    until(what, condition, () -> "");
  }

  static void until(String what, BooleanSupplier condition, Supplier<String> state) {
    await(what).atMost(DEADLINE).pollInterval(Duration.ofMillis(10))
        .untilAsserted(() -> {
          if (!condition.getAsBoolean()) {
            throw new AssertionError(what + " " + state.get());
          }
        });
  }
}
