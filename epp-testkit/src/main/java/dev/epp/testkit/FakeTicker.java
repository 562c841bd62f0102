package dev.epp.testkit;

import dev.epp.api.Ticker;
import java.time.Duration;

/** A {@link Ticker} that stands still until a test moves it. Starts at {@link Fixtures#NOW}. Thread-safe. */
public final class FakeTicker implements Ticker {

  private volatile long nanos = Fixtures.NOW;

  /** A ticker at {@link Fixtures#NOW}. */
  public FakeTicker() {}

  @Override
  public long nanos() {
    return nanos;
  }

  /** Sets the time. */
  public void set(long nanos) {
    this.nanos = nanos;
  }

  /** Moves the time forward by {@code duration}. */
  public synchronized void advance(Duration duration) {
    nanos += duration.toNanos();
  }
}
