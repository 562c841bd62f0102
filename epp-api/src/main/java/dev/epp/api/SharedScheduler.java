package dev.epp.api;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/** The default {@link PluginHandle#scheduler()}: one daemon thread, started when first used. */
final class SharedScheduler {

  static final ScheduledExecutorService INSTANCE = Executors.newSingleThreadScheduledExecutor(task -> {
    Thread thread = new Thread(task, "epp-plugin-scheduler");
    thread.setDaemon(true);
    return thread;
  });

  private SharedScheduler() {}
}
