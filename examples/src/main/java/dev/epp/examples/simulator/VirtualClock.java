package dev.epp.examples.simulator;

import java.util.PriorityQueue;

/**
 * A discrete-event clock: {@link #run()} executes scheduled tasks in time order, jumping straight to each task's time,
 * so a simulation takes as long as its computation and is exactly reproducible.
 *
 * <p><b>Threading:</b> not thread-safe; scheduling and running happen on the caller's thread.
 */
final class VirtualClock implements SimClock {

  private final PriorityQueue<Event> events = new PriorityQueue<>();
  private long now;
  private long sequence;

  @Override
  public long nanos() {
    return now;
  }

  @Override
  public void schedule(long delayNanos, Runnable task) {
    events.add(new Event(now + Math.max(0, delayNanos), sequence++, task));
  }

  /** Runs events in time order until none is left; tasks may schedule more. */
  void run() {
    runUntil(Long.MAX_VALUE);
  }

  /** Runs the events due at or before {@code nanos} in time order, then advances the time to {@code nanos}. */
  void runUntil(long nanos) {
    while (!events.isEmpty() && events.peek().at <= nanos) {
      Event event = events.poll();
      now = event.at;
      event.task.run();
    }
    now = Math.max(now, nanos == Long.MAX_VALUE ? now : nanos);
  }

  private record Event(long at, long sequence, Runnable task) implements Comparable<Event> {
    @Override
    public int compareTo(Event other) {
      int byTime = Long.compare(at, other.at);
      return byTime != 0 ? byTime : Long.compare(sequence, other.sequence);
    }
  }
}
