package dev.epp.extproc;

import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Malformed input on the process's gRPC server ports: HTTP/2 protocol violations and bytes that are not an ext_proc
 * message. Each is counted ({@link #total()}, exported as {@code inference_extension_grpc_malformed_input_total}) and
 * described in one log line, at most one line every 10 seconds, instead of a stack trace per event.
 *
 * <p>grpc-netty reports protocol violations through {@code java.util.logging} with a stack trace each: a failed
 * connection on the {@value #TRANSPORT_LOGGER} logger at {@code INFO}, a failed stream or a bad header on
 * {@value #HANDLER_LOGGER} at {@code WARNING}. {@link #install()} filters those two loggers: their records at
 * {@code INFO} and above are recorded here instead (records below {@code INFO}, seen only when an operator enables
 * them, pass unchanged). The loggers are process-wide, so the count is too, like the JVM's own metrics.
 *
 * <p><b>Threading:</b> thread-safe; recording never blocks.
 */
public final class MalformedInput {

  static final String TRANSPORT_LOGGER = "io.grpc.netty.shaded.io.grpc.netty.NettyServerTransport.connections";
  static final String HANDLER_LOGGER = "io.grpc.netty.shaded.io.grpc.netty.NettyServerHandler";

  private static final Logger log = LoggerFactory.getLogger(MalformedInput.class);
  private static final long LOG_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(10);
  /** Held so that the filters stay: {@code java.util.logging} keeps its loggers only weakly. */
  private static final List<java.util.logging.Logger> GRPC_LOGGERS = List.of(
      java.util.logging.Logger.getLogger(TRANSPORT_LOGGER), java.util.logging.Logger.getLogger(HANDLER_LOGGER));

  private static final LongAdder total = new LongAdder();
  private static final AtomicLong lastLogged = new AtomicLong(System.nanoTime() - LOG_INTERVAL_NANOS);
  private static final AtomicLong unlogged = new AtomicLong();

  private MalformedInput() {}

  /** Puts the filters on grpc-netty's loggers. Idempotent. */
  public static void install() {
    for (java.util.logging.Logger logger : GRPC_LOGGERS) {
      logger.setFilter(MalformedInput::passes);
    }
  }

  /** Everything recorded in this process so far. */
  public static long total() {
    return total.sum();
  }

  /** Counts one malformed input; logs it unless a line was logged in the last 10 seconds. */
  static void record(String what, Throwable cause) {
    total.increment();
    long now = System.nanoTime();
    long previous = lastLogged.get();
    if (now - previous < LOG_INTERVAL_NANOS || !lastLogged.compareAndSet(previous, now)) {
      unlogged.incrementAndGet();
      return;
    }
    long more = unlogged.getAndSet(0);
    log.warn("malformed gRPC input: {}{}{} (at most one such line every 10 s; all are counted in "
            + "inference_extension_grpc_malformed_input_total)", what,
        cause == null ? "" : ": " + (cause.getMessage() != null ? cause.getMessage() : cause.getClass().getName()),
        more == 0 ? "" : "; " + more + " more since the previous line");
  }

  private static boolean passes(LogRecord record) {
    if (record.getLevel().intValue() < Level.INFO.intValue()) {
      return true;
    }
    record(TRANSPORT_LOGGER.equals(record.getLoggerName()) ? "HTTP/2 connection failed"
        : "HTTP/2 stream failed: " + record.getMessage(), record.getThrown());
    return false;
  }
}
