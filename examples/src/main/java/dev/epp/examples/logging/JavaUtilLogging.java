package dev.epp.examples.logging;

import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;
import org.slf4j.LoggerFactory;

/**
 * Sends {@code java.util.logging} records (grpc-java's and Netty's) through SLF4J, so that every line the commands log
 * has one format: with {@code --zap-encoder json}, no line is left in the JDK's two-line format.
 */
public final class JavaUtilLogging {

  /** Formats a record's message with its parameters and resource bundle, as the JDK's handlers do. */
  private static final Formatter MESSAGES = new SimpleFormatter();

  private static final Handler TO_SLF4J = new Handler() {
    @Override
    public void publish(LogRecord record) {
      if (!isLoggable(record)) {
        return;
      }
      org.slf4j.Logger logger = LoggerFactory.getLogger(record.getLoggerName() == null ? "" : record.getLoggerName());
      String message = MESSAGES.formatMessage(record);
      int level = record.getLevel().intValue();
      if (level >= Level.SEVERE.intValue()) {
        logger.error(message, record.getThrown());
      } else if (level >= Level.WARNING.intValue()) {
        logger.warn(message, record.getThrown());
      } else if (level >= Level.INFO.intValue()) {
        logger.info(message, record.getThrown());
      } else if (level >= Level.FINE.intValue()) {
        logger.debug(message, record.getThrown());
      } else {
        logger.trace(message, record.getThrown());
      }
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}
  };

  private JavaUtilLogging() {}

  /** Replaces the root logger's handlers by one that forwards to SLF4J. Idempotent. */
  public static synchronized void toSlf4j() {
    Logger root = LogManager.getLogManager().getLogger("");
    for (Handler handler : root.getHandlers()) {
      if (handler != TO_SLF4J) {
        root.removeHandler(handler);
      }
    }
    if (root.getHandlers().length == 0) {
      root.addHandler(TO_SLF4J);
    }
  }
}
