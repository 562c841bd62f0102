package dev.epp.examples;

import dev.epp.examples.logging.LogSettings;
import dev.epp.examples.logging.LogSettings.TimeEncoding;
import java.util.List;
import java.util.Locale;
import org.slf4j.event.Level;

/**
 * The Go EPP's logging flags, as GIE's and llm-d's Helm charts pass them: {@code -v}/{@code --v} (verbosity) and
 * controller-runtime's zap flags, turned into {@link LogSettings}.
 *
 * <p>Verbosity maps onto levels as the Go EPP's log calls are graded (DEFAULT 2, VERBOSE 3, DEBUG 4, TRACE 5): up to
 * 2 logs INFO and above, 3 and 4 add DEBUG, 5 and more add TRACE. {@code --zap-log-level} overrides it.
 */
final class LoggingFlags {

  private final Cli.Flag<Integer> verbosity;
  private final Cli.Flag<Boolean> devel;
  private final Cli.Flag<String> encoder;
  private final Cli.Flag<String> level;
  private final Cli.Flag<String> stacktraceLevel;
  private final Cli.Flag<String> timeEncoding;

  LoggingFlags(Cli flags) {
    verbosity = flags.integer("v", 'v', 2, 0, 127,
        "log verbosity: up to 2 INFO, 3-4 also DEBUG, 5 and more also TRACE");
    devel = flags.bool("zap-devel", true,
        "development logging (console lines, ISO-8601 times, stack traces from warn); false: production "
            + "(JSON lines, epoch times, stack traces from error)");
    encoder = flags.choice("zap-encoder", "", List.of("", "json", "console"),
        "log line format, json or console; empty: as --zap-devel says");
    level = flags.string("zap-log-level", "",
        "least severe level logged: debug, info, warn, error, panic (nothing), or a verbosity 1..127; empty: from -v");
    stacktraceLevel = flags.choice("zap-stacktrace-level", "", List.of("", "info", "warn", "error", "panic"),
        "level from which a logged exception carries its stack trace; empty: as --zap-devel says");
    timeEncoding = flags.choice("zap-time-encoding", "",
        List.of("", "epoch", "millis", "nano", "iso8601", "rfc3339", "rfc3339nano"),
        "how event times are written; empty: as --zap-devel says");
  }

  /** The settings the parsed flags ask for. */
  LogSettings settings() throws Cli.UsageException {
    boolean development = devel.get();
    boolean json = encoder.get().isEmpty() ? !development : encoder.get().equals("json");
    TimeEncoding time = timeEncoding.get().isEmpty()
        ? (development ? TimeEncoding.ISO8601 : TimeEncoding.EPOCH)
        : TimeEncoding.valueOf(timeEncoding.get().toUpperCase(Locale.ROOT));
    Level stacktraces = switch (stacktraceLevel.get()) {
      case "" -> development ? Level.WARN : Level.ERROR;
      case "info" -> Level.INFO;
      case "warn" -> Level.WARN;
      case "error" -> Level.ERROR;
      default -> null; // panic: no event of this EPP is that severe
    };
    return new LogSettings(threshold(), json, time, stacktraces);
  }

  private Level threshold() throws Cli.UsageException {
    String given = level.get();
    return switch (given) {
      case "" -> ofVerbosity(verbosity.get());
      case "debug" -> Level.DEBUG;
      case "info" -> Level.INFO;
      case "warn" -> Level.WARN;
      case "error" -> Level.ERROR;
      case "panic" -> null;
      default -> {
        try {
          int v = Integer.parseInt(given);
          if (v < 1 || v > 127) {
            throw new NumberFormatException();
          }
          yield ofVerbosity(v);
        } catch (NumberFormatException e) {
          throw new Cli.UsageException("invalid value \"" + given + "\" for --zap-log-level: expected debug, info, "
              + "warn, error, panic or an integer 1..127");
        }
      }
    };
  }

  private static Level ofVerbosity(int v) {
    return v >= 5 ? Level.TRACE : v >= 3 ? Level.DEBUG : Level.INFO;
  }
}
