package dev.epp.examples.simulator;

/**
 * The time an engine runs on, and the one thread its events run on: virtual time for the benchmark
 * ({@link VirtualClock}), real time for the HTTP simulator ({@link RealTimeClock}).
 */
interface SimClock {

  /** The current time in nanoseconds, relative to an arbitrary origin. */
  long nanos();

  /**
   * Runs {@code task} on the clock's thread {@code delayNanos} from now (at once if not positive). Tasks due at the
   * same time run in the order they were scheduled.
   */
  void schedule(long delayNanos, Runnable task);
}
