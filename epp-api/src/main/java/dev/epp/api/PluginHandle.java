package dev.epp.api;

import java.util.Optional;

/**
 * What the framework offers a {@link PluginFactory} while a configuration is being built.
 *
 * <p><b>Threading:</b> valid during {@link PluginFactory#create} and, for {@link #ticker()}, for the plugin's lifetime.
 */
public interface PluginHandle {

  /** The time source plugins must use to judge metric freshness, so tests can control time. */
  Ticker ticker();

  /**
   * A plugin created earlier in the same configuration.
   *
   * @return the plugin named {@code name} if it exists and is an instance of {@code type}
   */
  <T> Optional<T> plugin(String name, Class<T> type);
}
