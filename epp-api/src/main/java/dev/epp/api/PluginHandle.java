package dev.epp.api;

import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.random.RandomGenerator;

/**
 * What the framework offers a {@link PluginFactory} while a configuration is being built.
 *
 * <p><b>Threading:</b> valid during {@link PluginFactory#create} and, for {@link #ticker()}, for the plugin's lifetime.
 */
public interface PluginHandle {

  /** The time source plugins must use to judge metric freshness, so tests can control time. */
  Ticker ticker();

  /**
   * The random source plugins must use for random choices (picking, breaking ties), so a seeded configuration
   * schedules reproducibly. Thread-safe. The default draws from the calling thread's {@link ThreadLocalRandom}.
   */
  default RandomGenerator random() {
    return () -> ThreadLocalRandom.current().nextLong();
  }

  /**
   * A plugin created earlier in the same configuration.
   *
   * @return the plugin named {@code name} if it exists and is an instance of {@code type}
   */
  <T> Optional<T> plugin(String name, Class<T> type);
}
