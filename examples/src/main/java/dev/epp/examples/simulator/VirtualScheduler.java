package dev.epp.examples.simulator;

import java.util.List;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.Callable;
import java.util.concurrent.Delayed;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The plugins' scheduler ({@link dev.epp.api.PluginHandle#scheduler()}) on a {@link VirtualClock}, so that delayed
 * plugin work (e.g. the end of a speculative index entry's TTL) happens in virtual time. Supports one-shot
 * {@link #schedule(Runnable, long, TimeUnit)} and {@link #execute} (run at the current time); periodic and
 * {@link Callable} scheduling are not supported, since a periodic task would keep the clock from running out.
 * Cancelling a scheduled task is not supported either: {@link ScheduledFuture#cancel} returns false.
 *
 * <p><b>Threading:</b> not thread-safe; confined to the clock's thread.
 */
final class VirtualScheduler extends AbstractExecutorService implements ScheduledExecutorService {

  private final VirtualClock clock;

  VirtualScheduler(VirtualClock clock) {
    this.clock = clock;
  }

  @Override
  public ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
    long at = clock.nanos() + unit.toNanos(delay);
    clock.schedule(unit.toNanos(delay), command);
    return new ScheduledFuture<Object>() {
      @Override
      public long getDelay(TimeUnit u) {
        return u.convert(at - clock.nanos(), TimeUnit.NANOSECONDS);
      }

      @Override
      public int compareTo(Delayed other) {
        return Long.compare(getDelay(TimeUnit.NANOSECONDS), other.getDelay(TimeUnit.NANOSECONDS));
      }

      @Override
      public boolean cancel(boolean mayInterruptIfRunning) {
        return false;
      }

      @Override
      public boolean isCancelled() {
        return false;
      }

      @Override
      public boolean isDone() {
        return clock.nanos() >= at;
      }

      @Override
      public Object get() {
        throw new UnsupportedOperationException("a virtual-time task cannot be waited for");
      }

      @Override
      public Object get(long timeout, TimeUnit u) {
        throw new UnsupportedOperationException("a virtual-time task cannot be waited for");
      }
    };
  }

  @Override
  public void execute(Runnable command) {
    clock.schedule(0, command);
  }

  @Override
  public <V> ScheduledFuture<V> schedule(Callable<V> callable, long delay, TimeUnit unit) {
    throw new UnsupportedOperationException("only Runnable tasks run in virtual time");
  }

  @Override
  public ScheduledFuture<?> scheduleAtFixedRate(Runnable command, long initialDelay, long period, TimeUnit unit) {
    throw new UnsupportedOperationException("periodic tasks would keep the virtual clock running forever");
  }

  @Override
  public ScheduledFuture<?> scheduleWithFixedDelay(Runnable command, long initialDelay, long delay, TimeUnit unit) {
    throw new UnsupportedOperationException("periodic tasks would keep the virtual clock running forever");
  }

  @Override
  public void shutdown() {}

  @Override
  public List<Runnable> shutdownNow() {
    return List.of();
  }

  @Override
  public boolean isShutdown() {
    return false;
  }

  @Override
  public boolean isTerminated() {
    return false;
  }

  @Override
  public boolean awaitTermination(long timeout, TimeUnit unit) {
    return false;
  }
}
