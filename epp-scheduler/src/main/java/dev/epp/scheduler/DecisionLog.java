package dev.epp.scheduler;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The last few scheduling decisions, sampled, for a live page: which endpoints a request was sent to and the
 * {@link Explanation} of why, or why it could not be scheduled.
 *
 * <p><b>Sampling.</b> At most one request per {@linkplain #sampleInterval() interval} (default 100 ms) is sampled: the
 * first request after the interval has passed. So under low load every request is recorded, and under high load the
 * request path pays one clock read and one volatile read per request, and an {@link Explanation} at most ten times a
 * second. A sampled request is explained and recorded whether it is scheduled or fails; a request refused before
 * scheduling (no candidate, shed, dropped by flow control) is recorded, without explanation, when it is sampled.
 *
 * <p><b>Memory:</b> bounded by the capacity (default {@value #DEFAULT_CAPACITY} decisions); older ones are
 * overwritten.
 *
 * <p><b>Threading:</b> thread-safe and lock-free.
 */
public final class DecisionLog {

  /** The default number of decisions kept. */
  public static final int DEFAULT_CAPACITY = 100;

  /** The default sampling interval. */
  public static final Duration DEFAULT_SAMPLE_INTERVAL = Duration.ofMillis(100);

  /**
   * One decision.
   *
   * @param epochMillis when it was made, in milliseconds since the epoch
   * @param requestId the request's {@code x-request-id}
   * @param model the model the client asked for
   * @param targetModel the model served after rewrite
   * @param explanation why the targets were chosen; {@code null} for a request that failed before or during scheduling
   * @param targets the chosen endpoints' names, primary first; empty when the request failed
   * @param errorCode the failure's code ({@code InferenceException.Code} wire name), or {@code null} if scheduled
   * @param errorMessage the failure's message, or {@code null} if scheduled
   */
  public record Decision(long epochMillis, String requestId, String model, String targetModel,
      Explanation explanation, List<String> targets, String errorCode, String errorMessage) {

    /** Copies the targets. */
    public Decision {
      targets = List.copyOf(targets);
    }
  }

  private final AtomicReferenceArray<Decision> ring;
  private final AtomicLong written = new AtomicLong();
  private final AtomicLong nextSampleNanos;
  private final long intervalNanos;

  private DecisionLog(int capacity, Duration interval) {
    if (capacity < 1) {
      throw new IllegalArgumentException("capacity must be positive, got " + capacity);
    }
    if (interval.isNegative()) {
      throw new IllegalArgumentException("sample interval must not be negative, got " + interval);
    }
    this.ring = new AtomicReferenceArray<>(capacity);
    this.intervalNanos = interval.toNanos();
    this.nextSampleNanos = new AtomicLong(System.nanoTime());
  }

  /** A log of the last {@value #DEFAULT_CAPACITY} decisions, sampling one request per 100 ms. */
  public static DecisionLog create() {
    return create(DEFAULT_CAPACITY, DEFAULT_SAMPLE_INTERVAL);
  }

  /**
   * A log of the last {@code capacity} decisions, sampling at most one request per {@code interval} (zero: every
   * request).
   *
   * @throws IllegalArgumentException if {@code capacity} is not positive or {@code interval} is negative
   */
  public static DecisionLog create(int capacity, Duration interval) {
    return new DecisionLog(capacity, interval);
  }

  /** The sampling interval. */
  public Duration sampleInterval() {
    return Duration.ofNanos(intervalNanos);
  }

  /** How many decisions are kept. */
  public int capacity() {
    return ring.length();
  }

  /**
   * Whether to sample the request being scheduled: true for at most one caller per interval, who should then
   * {@link #add} its decision.
   */
  public boolean wantsNext() {
    long next = nextSampleNanos.get();
    long now = System.nanoTime();
    return now - next >= 0 && nextSampleNanos.compareAndSet(next, now + intervalNanos);
  }

  /** Records {@code decision}, overwriting the oldest when full. */
  public void add(Decision decision) {
    long i = written.getAndIncrement();
    ring.set((int) (i % ring.length()), decision);
  }

  /** The decisions kept, newest first. */
  public List<Decision> recent() {
    long end = written.get();
    int n = (int) Math.min(end, ring.length());
    List<Decision> result = new ArrayList<>(n);
    for (long i = end - 1; i >= end - n; i--) {
      Decision d = ring.get((int) (i % ring.length()));
      if (d != null) { // a slot claimed but not yet written
        result.add(d);
      }
    }
    return result;
  }
}
