package dev.epp.api;

import java.util.Optional;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.random.RandomGenerator;

/**
 * What the framework offers a {@link PluginFactory} while a configuration is being built.
 *
 * <p><b>Threading:</b> valid during {@link PluginFactory#create}; {@link #ticker()}, {@link #random()},
 * {@link #metrics()} and {@link #scheduler()} also for the plugin's lifetime.
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
   * Where the plugin reports metrics: request-path observations and gauges it owns (e.g. the size of an index it
   * keeps). The same recorder the request metrics go to; {@link MetricsRecorder#noop()} when the embedder records
   * none.
   */
  default MetricsRecorder metrics() {
    return MetricsRecorder.noop();
  }

  /**
   * The scheduler for the plugin's background work (periodic clean-up, refreshes), valid for the plugin's lifetime.
   * Shared with other plugins and owned by the embedder: tasks must be short and must not block; the plugin must not
   * shut it down. The default is one daemon thread shared by the process, started on first use.
   */
  default ScheduledExecutorService scheduler() {
    return SharedScheduler.INSTANCE;
  }

  /**
   * Whose defaults the plugin applies to parameters its specification leaves out, where llm-d's and the GIE v1.5
   * EPP's differ: the dialect the configuration's {@code apiVersion} names. The default, for configurations built in
   * code, is {@link ConfigDialect#LLM_D}, the primary form.
   */
  default ConfigDialect dialect() {
    return ConfigDialect.LLM_D;
  }

  /**
   * A plugin created earlier in the same configuration.
   *
   * @return the plugin named {@code name} if it exists and is an instance of {@code type}
   */
  <T> Optional<T> plugin(String name, Class<T> type);
}
