package dev.epp.kvcache.events;

import dev.epp.api.MetricsRecorder;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zeromq.ZContext;

/**
 * One thread that decodes the messages of its endpoints, checks their sequence numbers and applies them to the sink,
 * in the order they were offered.
 *
 * <p><b>Threading:</b> {@link #offer}, {@link #clear} and {@link #stop} may be called from any thread; the sequence
 * state of each endpoint is touched only by the worker thread. Messages beyond the queue's bounds are refused; clears
 * are always queued (there are at most as many as subscription changes).
 */
final class KvEventWorker {

  static final String MALFORMED = "malformed";
  static final String QUEUE_FULL = "queue_full";
  static final String UNKNOWN_EVENT = "unknown_event";
  static final String SINK_ERROR = "sink_error";

  private static final Logger log = LoggerFactory.getLogger(KvEventWorker.class);

  private sealed interface Task {}

  private record Delivery(String endpoint, String replayUrl, byte[] topic, byte[] sequence, byte[] payload)
      implements Task {}

  private record Clear(String endpoint) implements Task {}

  private record Stop() implements Task {}

  /** How long after a failed replay an endpoint's gaps are cleared without asking for a replay. */
  static final long REPLAY_COOLDOWN_NANOS = 30_000_000_000L;

  private final KvEventSink sink;
  private final ZContext context;
  private final MetricsRecorder metrics;
  private final int capacity;
  private final long maxBytes;
  private final LinkedBlockingQueue<Task> queue = new LinkedBlockingQueue<>();
  private final AtomicInteger queuedMessages = new AtomicInteger();
  private final AtomicLong queuedBytes = new AtomicLong();
  /** The last sequence number applied per endpoint; worker thread only. */
  private final Map<String, Long> lastSequence = new HashMap<>();
  /** When the last replay of each endpoint failed; worker thread only. */
  private final Map<String, Long> replayFailedNanos = new HashMap<>();
  private Thread thread;

  KvEventWorker(KvEventSink sink, MetricsRecorder metrics, int capacity, long maxBytes, ZContext context) {
    this.sink = sink;
    this.context = context;
    this.metrics = metrics;
    this.capacity = capacity;
    this.maxBytes = maxBytes;
  }

  void start(String name) {
    thread = new Thread(this::run, name);
    thread.setDaemon(true);
    thread.start();
  }

  /**
   * Queues a message of {@code endpoint}; {@code false} if the queue is full.
   *
   * @param replayUrl where to ask for lost messages, or {@code null}
   */
  boolean offer(String endpoint, String replayUrl, byte[] topic, byte[] sequence, byte[] payload) {
    long bytes = topic.length + sequence.length + (long) payload.length;
    if (queuedMessages.incrementAndGet() > capacity || queuedBytes.addAndGet(bytes) > maxBytes) {
      queuedMessages.decrementAndGet();
      queuedBytes.addAndGet(-bytes);
      return false;
    }
    queue.add(new Delivery(endpoint, replayUrl, topic, sequence, payload));
    return true;
  }

  /** Queues forgetting {@code endpoint}: its sequence, and its blocks in the sink. */
  void clear(String endpoint) {
    queue.add(new Clear(endpoint));
  }

  /** Messages queued and not yet applied. */
  int queuedMessages() {
    return queuedMessages.get();
  }

  /** Stops after the tasks queued so far and waits for the thread to end. */
  void stop() {
    queue.add(new Stop());
    boolean interrupted = false;
    while (thread.isAlive()) {
      try {
        thread.join();
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  private void run() {
    while (true) {
      Task task;
      try {
        task = queue.take();
      } catch (InterruptedException e) {
        continue; // only stop() ends the worker
      }
      if (task instanceof Stop) {
        return;
      }
      if (task instanceof Clear clear) {
        lastSequence.remove(clear.endpoint());
        replayFailedNanos.remove(clear.endpoint());
        clearSink(clear.endpoint());
      } else if (task instanceof Delivery delivery) {
        try {
          deliver(delivery);
        } finally {
          queuedMessages.decrementAndGet();
          queuedBytes.addAndGet(-(delivery.topic().length + delivery.sequence().length
              + (long) delivery.payload().length));
        }
      }
    }
  }

  private void deliver(Delivery d) {
    String endpoint = d.endpoint();
    long sequence;
    KvEventDecoder.Message message;
    try {
      sequence = KvEventDecoder.sequence(d.sequence());
      message = KvEventDecoder.decode(d.topic(), d.payload());
    } catch (KvEventDecodeException e) {
      metrics.recordKvEventDropped(endpoint, MALFORMED);
      log.debug("Dropped a KV-event message from {}: {}", endpoint, e.getMessage());
      return;
    }
    Long last = lastSequence.put(endpoint, sequence);
    long next = last == null ? 0 : last + 1;
    if (last != null && sequence != next) {
      metrics.recordKvEventSequenceGap(endpoint);
    }
    if (sequence > next && d.replayUrl() != null && mayReplay(endpoint)) {
      // Lost messages, or joined mid-stream: ask the publisher for [next, sequence).
      if (!KvEventReplay.replay(context, d.replayUrl(), next, sequence, (t, s, p) -> apply(endpoint, KvEventDecoder.decode(t, p)))) {
        replayFailedNanos.put(endpoint, System.nanoTime());
        log.debug("KV-event replay from {} failed; clearing its blocks", endpoint);
        clearSink(endpoint);
      }
    } else if (last != null && sequence != next) {
      log.debug("KV-event sequence gap from {}: {} after {}; clearing its blocks", endpoint, sequence, last);
      clearSink(endpoint);
    }
    apply(endpoint, message);
  }

  private boolean mayReplay(String endpoint) {
    Long failed = replayFailedNanos.get(endpoint);
    return failed == null || System.nanoTime() - failed >= REPLAY_COOLDOWN_NANOS;
  }

  private void apply(String endpoint, KvEventDecoder.Message message) {
    for (int i = 0; i < message.unknownEvents(); i++) {
      metrics.recordKvEventDropped(endpoint, UNKNOWN_EVENT);
    }
    if (message.events().isEmpty()) {
      return;
    }
    try {
      sink.apply(endpoint, message.model(), message.events());
    } catch (RuntimeException e) {
      metrics.recordKvEventDropped(endpoint, SINK_ERROR);
      log.warn("The KV-event sink failed on events from {}", endpoint, e);
    }
  }

  private void clearSink(String endpoint) {
    try {
      sink.clear(endpoint);
    } catch (RuntimeException e) {
      metrics.recordKvEventDropped(endpoint, SINK_ERROR);
      log.warn("The KV-event sink failed to clear {}", endpoint, e);
    }
  }
}
