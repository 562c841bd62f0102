package dev.epp.api;

/**
 * A monotonic nanosecond time source, injectable so tests control time. Values are only meaningful relative to each
 * other, like {@link System#nanoTime()}.
 */
@FunctionalInterface
public interface Ticker {

  /** The current time in nanoseconds. */
  long nanos();

  /** The system ticker, backed by {@link System#nanoTime()}. */
  static Ticker system() {
    return System::nanoTime;
  }
}
