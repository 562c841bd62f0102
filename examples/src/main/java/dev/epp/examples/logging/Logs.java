package dev.epp.examples.logging;

import java.util.Objects;

/**
 * The example commands' logging settings, read by every logger at each event: a command sets them once it has parsed
 * its flags, and loggers made before that follow.
 */
public final class Logs {

  private static volatile LogSettings settings = LogSettings.DEFAULT;

  private Logs() {}

  /** The settings in force. */
  public static LogSettings settings() {
    return settings;
  }

  /** Replaces the settings for every logger. */
  public static void configure(LogSettings value) {
    settings = Objects.requireNonNull(value);
  }
}
