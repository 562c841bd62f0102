package dev.epp.examples.simulator;

import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Wall-clock time with one daemon thread that runs every scheduled task, so an engine driven by it needs no locks:
 * other threads hand work to it with {@link #call}.
 *
 * <p><b>Threading:</b> thread-safe.
 */
final class RealTimeClock implements SimClock, AutoCloseable {

  private final long origin = System.nanoTime();
  private final ScheduledExecutorService thread = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "simulator-engine");
    t.setDaemon(true);
    return t;
  });

  @Override
  public long nanos() {
    return System.nanoTime() - origin;
  }

  @Override
  public void schedule(long delayNanos, Runnable task) {
    thread.schedule(task, Math.max(0, delayNanos), TimeUnit.NANOSECONDS);
  }

  /**
   * Runs {@code task} on the clock's thread and waits for its result.
   *
   * @throws IllegalStateException if the clock is closed or the thread is interrupted
   * @throws RuntimeException what {@code task} threw
   */
  <T> T call(Callable<T> task) {
    Future<T> future = thread.submit(task);
    try {
      return future.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException runtime) {
        throw runtime;
      }
      throw new IllegalStateException(e.getCause());
    }
  }

  /** Stops the thread; pending tasks are dropped. */
  @Override
  public void close() {
    thread.shutdownNow();
  }
}
