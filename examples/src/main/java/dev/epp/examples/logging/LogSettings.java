package dev.epp.examples.logging;

import java.util.Objects;
import org.slf4j.event.Level;

/**
 * How the example commands log: which events are written, as JSON lines or console lines, how times are written,
 * and from which level an event's exception carries its stack trace.
 *
 * @param threshold the least severe level written; {@code null} writes nothing
 * @param json JSON lines (as zap's {@code json} encoder) rather than console lines
 * @param time how the time of an event is written
 * @param stacktraceLevel events at this level or more severe carry their exception's stack trace, others only the
 *     exception's message; {@code null}: none does
 */
public record LogSettings(Level threshold, boolean json, TimeEncoding time, Level stacktraceLevel) {

  /**
   * The Go EPP's defaults (zap development mode at verbosity 2): console lines from INFO up with ISO-8601 times, stack
   * traces from WARN up.
   */
  public static final LogSettings DEFAULT = new LogSettings(Level.INFO, false, TimeEncoding.ISO8601, Level.WARN);

  /** Validates the encodings. */
  public LogSettings {
    Objects.requireNonNull(time, "time");
  }

  /** Whether an event of {@code level} is written. */
  boolean enabled(Level level) {
    return threshold != null && level.toInt() >= threshold.toInt();
  }

  /** Whether an event of {@code level} carries its exception's stack trace. */
  boolean stackTraced(Level level) {
    return stacktraceLevel != null && level.toInt() >= stacktraceLevel.toInt();
  }

  /** The time encodings of controller-runtime's {@code --zap-time-encoding}. */
  public enum TimeEncoding {
    /** Seconds since the epoch, with fractions. */
    EPOCH,
    /** Milliseconds since the epoch, with fractions. */
    MILLIS,
    /** Nanoseconds since the epoch. */
    NANO,
    /** {@code 2006-01-02T15:04:05.000Z0700}. */
    ISO8601,
    /** {@code 2006-01-02T15:04:05Z07:00}. */
    RFC3339,
    /** {@code 2006-01-02T15:04:05.999999999Z07:00}. */
    RFC3339NANO
  }
}
