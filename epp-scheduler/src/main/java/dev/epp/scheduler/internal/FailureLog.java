package dev.epp.scheduler.internal;

import dev.epp.api.Plugin;
import dev.epp.api.Ticker;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Logs plugin failures that the framework contains, at most once per plugin per minute, so a broken plugin under
 * load cannot flood the log.
 *
 * <p><b>Threading:</b> thread-safe.
 */
public final class FailureLog {

  private static final Logger log = LoggerFactory.getLogger(FailureLog.class);
  private static final long INTERVAL_NANOS = TimeUnit.MINUTES.toNanos(1);

  private final Ticker ticker;
  private final ConcurrentMap<Plugin, AtomicLong> lastLogged = new ConcurrentHashMap<>();

  /** A log that judges the interval with {@code ticker}. */
  public FailureLog(Ticker ticker) {
    this.ticker = ticker;
  }

  /**
   * Records that {@code plugin} failed at {@code extensionPoint}; {@code consequence} says what the framework did
   * instead (e.g. "scores 0").
   */
  public void failed(Plugin plugin, String extensionPoint, String consequence, Throwable error) {
    long now = ticker.nanos();
    AtomicLong last = lastLogged.computeIfAbsent(plugin, p -> new AtomicLong(now - INTERVAL_NANOS));
    long previous = last.get();
    if (now - previous >= INTERVAL_NANOS && last.compareAndSet(previous, now)) {
      log.warn("plugin {} failed in {}, {}: {} (logged at most once a minute per plugin)",
          plugin.typedName(), extensionPoint, consequence, error.toString());
    }
  }
}
