package dev.epp.examples.logging;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import org.slf4j.Marker;
import org.slf4j.event.Level;
import org.slf4j.helpers.LegacyAbstractLogger;
import org.slf4j.helpers.MessageFormatter;

/**
 * A logger writing one line per event to the current {@code System.err}, as {@link Logs#settings()} says: a console
 * line ({@code <time> INFO EppServer - message}) or a JSON object ({@code {"level":"info","ts":...,"logger":...,
 * "msg":...}}, zap's keys, with {@code error} and {@code stacktrace} for an exception).
 *
 * <p><b>Threading:</b> thread-safe; each event is written with one {@code print} call.
 */
final class EppLogger extends LegacyAbstractLogger {

  private static final long serialVersionUID = 1L;
  private static final JsonFactory JSON = new JsonFactory();
  private static final DateTimeFormatter ISO8601 =
      DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSXX").withZone(ZoneOffset.UTC);
  private static final DateTimeFormatter RFC3339 =
      DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ssXXX").withZone(ZoneOffset.UTC);

  private final String shortName;

  EppLogger(String name) {
    this.name = name;
    this.shortName = name.substring(name.lastIndexOf('.') + 1);
  }

  @Override
  public boolean isTraceEnabled() {
    return Logs.settings().enabled(Level.TRACE);
  }

  @Override
  public boolean isDebugEnabled() {
    return Logs.settings().enabled(Level.DEBUG);
  }

  @Override
  public boolean isInfoEnabled() {
    return Logs.settings().enabled(Level.INFO);
  }

  @Override
  public boolean isWarnEnabled() {
    return Logs.settings().enabled(Level.WARN);
  }

  @Override
  public boolean isErrorEnabled() {
    return Logs.settings().enabled(Level.ERROR);
  }

  @Override
  protected String getFullyQualifiedCallerName() {
    return null;
  }

  @Override
  protected void handleNormalizedLoggingCall(Level level, Marker marker, String pattern, Object[] arguments,
      Throwable throwable) {
    LogSettings settings = Logs.settings();
    String message = MessageFormatter.basicArrayFormat(pattern, arguments);
    boolean stack = throwable != null && settings.stackTraced(level);
    Instant now = Instant.now();
    String line = settings.json()
        ? json(level, now, settings.time(), message, throwable, stack)
        : console(level, now, settings.time(), message, throwable, stack);
    PrintStream err = System.err;
    err.print(line);
    err.flush();
  }

  private String console(Level level, Instant now, LogSettings.TimeEncoding time, String message, Throwable throwable,
      boolean stack) {
    StringBuilder line = new StringBuilder(128).append(timeText(now, time)).append(' ').append(level).append(' ')
        .append(shortName).append(" - ").append(message);
    if (throwable != null && !stack) {
      line.append(": ").append(throwable);
    }
    line.append(System.lineSeparator());
    if (stack) {
      line.append(stackTrace(throwable));
    }
    return line.toString();
  }

  private String json(Level level, Instant now, LogSettings.TimeEncoding time, String message, Throwable throwable,
      boolean stack) {
    StringWriter out = new StringWriter(160);
    try (JsonGenerator json = JSON.createGenerator(out)) {
      json.writeStartObject();
      json.writeStringField("level", level.name().toLowerCase(java.util.Locale.ROOT));
      switch (time) {
        case EPOCH -> json.writeNumberField("ts", nanos(now).movePointLeft(9));
        case MILLIS -> json.writeNumberField("ts", nanos(now).movePointLeft(6));
        case NANO -> json.writeNumberField("ts", nanos(now).longValueExact());
        default -> json.writeStringField("ts", timeText(now, time));
      }
      json.writeStringField("logger", name);
      json.writeStringField("msg", message);
      if (throwable != null) {
        json.writeStringField("error", throwable.toString());
      }
      if (stack) {
        json.writeStringField("stacktrace", stackTrace(throwable));
      }
      json.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.append('\n').toString();
  }

  /** Nanoseconds since the epoch. */
  private static BigDecimal nanos(Instant now) {
    return BigDecimal.valueOf(now.getEpochSecond()).movePointRight(9).add(BigDecimal.valueOf(now.getNano()));
  }

  private static String timeText(Instant now, LogSettings.TimeEncoding time) {
    return switch (time) {
      case ISO8601 -> ISO8601.format(now);
      case RFC3339 -> RFC3339.format(now);
      case RFC3339NANO -> DateTimeFormatter.ISO_INSTANT.format(now);
      case EPOCH -> nanos(now).movePointLeft(9).toPlainString();
      case MILLIS -> nanos(now).movePointLeft(6).toPlainString();
      case NANO -> nanos(now).toPlainString();
    };
  }

  private static String stackTrace(Throwable throwable) {
    StringWriter trace = new StringWriter();
    try (PrintWriter writer = new PrintWriter(trace)) {
      throwable.printStackTrace(writer);
    }
    return trace.toString();
  }
}
