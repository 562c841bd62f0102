package dev.epp.kvcache.events;

import dev.epp.api.Endpoint;
import dev.epp.api.MetricsRecorder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.Pipe;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/**
 * ZeroMQ subscriptions to the KV-cache events of the pool's endpoints: one SUB connection per endpoint to
 * {@code tcp://<address>:<socketPort + rank>}, decoded off the request path and applied to a {@link KvEventSink}.
 *
 * <p>The rank is the data-parallel rank whose publisher the endpoint is: {@code i} for an endpoint named
 * {@code <pod>-rank-<i>} (Kubernetes discovery's name for a pod's {@code i}-th target port, which llm-d maps to the
 * engine's rank), otherwise 0. An endpoint labelled {@value #PORT_LABEL}{@code =<port>} is subscribed on that port
 * instead: for model servers that share an address, such as the demo's pods on one host (Kubernetes pods never do).
 *
 * <p>Messages are decoded by {@link KvEventDecoder}. Each endpoint's sequence numbers are checked: a message whose
 * number is not the previous one plus 1 (events lost, or the publisher restarted) is counted as a gap, and the
 * endpoint's blocks are cleared from the sink before the message is applied, so the sink never keeps blocks whose
 * removal it may have missed. With a replay port, the lost messages are first requested from the publisher's buffer
 * ({@link KvEventReplay}), and the blocks are cleared only if that fails (no replay is tried for 30 s afterwards).
 * A message that cannot be decoded is lost too: the next one is a gap. A message that cannot be decoded, an event of an unknown type, a message that finds its
 * worker's queue full and a sink call that throws are dropped and counted ({@link MetricsRecorder#recordKvEventDropped}).
 *
 * <p><b>Threading:</b> thread-safe. A fixed number of threads whatever the number of endpoints: one I/O thread
 * ({@value #THREAD_PREFIX}io) owns every socket and polls them all, and {@code concurrency} workers
 * ({@value #THREAD_PREFIX}worker-N) decode and apply; an endpoint's messages always go to the same worker, in order.
 * A replay runs on the endpoint's worker and holds it for at most 10 s ({@link KvEventReplay}).
 * {@link #subscribe} and {@link #unsubscribe} hand their work to the I/O thread and return at once. Each worker queues
 * at most {@code queueCapacity} messages and {@value #MAX_QUEUED_BYTES} bytes, so a flooding publisher costs bounded
 * memory; ZeroMQ itself buffers at most {@value #RECEIVE_HIGH_WATER_MARK} messages of at most
 * {@value KvEventDecoder#MAX_PAYLOAD_BYTES} bytes per socket (larger messages close the connection).
 */
public final class KvEventSubscribers implements AutoCloseable {

  /** The name prefix of the threads. */
  static final String THREAD_PREFIX = "kv-events-";
  /** The most bytes of payload a worker queues. */
  static final long MAX_QUEUED_BYTES = 64L << 20;
  /** ZeroMQ's receive high-water mark per socket, in messages. */
  static final int RECEIVE_HIGH_WATER_MARK = 256;
  /**
   * How long a connection's ZeroMQ handshake may take before the socket drops it and connects again (ZeroMQ's
   * default is 30 s, so a handshake that stalls would hold the pod's events back that long).
   */
  static final int HANDSHAKE_TIMEOUT_MILLIS = 2_000;

  private static final Logger log = LoggerFactory.getLogger(KvEventSubscribers.class);
  private static final Pattern RANK = Pattern.compile("-rank-(\\d{1,5})$");

  /** The endpoint label naming its publisher's port, overriding {@code socketPort + rank}. */
  public static final String PORT_LABEL = "kv-events-port";
  private static final int MAX_FRAMES = 3;
  private static final int MAX_MESSAGES_PER_POLL = 256;

  private final KvEventSink sink;
  private final MetricsRecorder metrics;
  private final int socketPort;
  private final int replaySocketPort;
  private final byte[] topicFilter;
  private final ZContext context = new ZContext(1);
  private final Pipe wakeup;
  private final Queue<Runnable> commands = new ConcurrentLinkedQueue<>();
  private final AtomicBoolean closed = new AtomicBoolean();
  private final KvEventWorker[] workers;
  private final Thread ioThread;

  // Owned by the I/O thread.
  private final Map<String, Subscription> subscriptions = new HashMap<>();
  private List<Subscription> polled = List.of();
  private ZMQ.Poller poller;
  private boolean running = true;

  private KvEventSubscribers(Builder builder) {
    this.sink = builder.sink;
    this.metrics = builder.metrics;
    this.socketPort = builder.socketPort;
    this.replaySocketPort = builder.replaySocketPort;
    this.topicFilter = builder.topicFilter.getBytes(StandardCharsets.UTF_8);
    try {
      wakeup = Pipe.open();
      wakeup.source().configureBlocking(false);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open the KV-event subscribers' wakeup pipe", e);
    }
    workers = new KvEventWorker[builder.concurrency];
    for (int i = 0; i < workers.length; i++) {
      workers[i] = new KvEventWorker(sink, metrics, builder.queueCapacity, MAX_QUEUED_BYTES, context);
      workers[i].start(THREAD_PREFIX + "worker-" + i);
    }
    ioThread = new Thread(this::pollLoop, THREAD_PREFIX + "io");
    ioThread.setDaemon(true);
    ioThread.start();
  }

  /** A builder of subscriptions that deliver to {@code sink}. */
  public static Builder builder(KvEventSink sink) {
    return new Builder(sink);
  }

  /**
   * Subscribes to {@code endpoint}'s events, replacing a subscription of the same name whose address or rank changed
   * (its blocks are cleared first). Subscribing again to the same address does nothing.
   *
   * @throws IllegalArgumentException if {@code socketPort + rank} is not a port
   * @throws IllegalStateException after {@link #close()}
   */
  public void subscribe(Endpoint endpoint) {
    int rank = rank(endpoint);
    int labelled = labelledPort(endpoint);
    String url = labelled > 0 ? url(endpoint, labelled, 0) : url(endpoint, socketPort, rank);
    String replayUrl = replaySocketPort == 0 ? null : url(endpoint, replaySocketPort, rank);
    command(() -> open(endpoint.name(), url, replayUrl));
  }

  /** Closes the subscription of the endpoint named {@code name}, if any, and clears its blocks from the sink. */
  public void unsubscribe(String name) {
    command(() -> closeSubscription(name));
  }

  /** Closes every subscription and joins the threads; the sink is not called afterwards. Idempotent. */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    commands.add(() -> running = false);
    signal();
    join(ioThread);
    for (KvEventWorker worker : workers) {
      worker.stop();
    }
    context.close(); // after the workers: they may hold replay sockets
    try {
      wakeup.sink().close();
      wakeup.source().close();
    } catch (IOException e) {
      log.debug("closing the wakeup pipe failed", e);
    }
  }

  private static String url(Endpoint endpoint, int basePort, int rank) {
    int port = basePort + rank;
    if (port > 65535) {
      throw new IllegalArgumentException("endpoint " + endpoint.name() + ": KV-event port " + port + " (" + basePort
          + " + rank " + rank + ") is not in 1..65535");
    }
    String host = endpoint.address().indexOf(':') >= 0 ? "[" + endpoint.address() + "]" : endpoint.address();
    return "tcp://" + host + ":" + port;
  }

  /** The port of the endpoint's {@value #PORT_LABEL} label, or 0 without one; a bad value is logged and ignored. */
  private static int labelledPort(Endpoint endpoint) {
    String value = endpoint.labels().get(PORT_LABEL);
    if (value == null) {
      return 0;
    }
    try {
      int port = Integer.parseInt(value.trim());
      if (port >= 1 && port <= 65535) {
        return port;
      }
    } catch (NumberFormatException e) {
      // logged below
    }
    log.warn("endpoint {}: ignoring label {}={}: not a port; subscribing on the configured socketPort",
        endpoint.name(), PORT_LABEL, value);
    return 0;
  }

  /** {@code i} for an endpoint named {@code <pod>-rank-<i>}, otherwise 0. */
  static int rank(Endpoint endpoint) {
    Matcher m = RANK.matcher(endpoint.name());
    return m.find() ? Integer.parseInt(m.group(1)) : 0;
  }

  private void command(Runnable command) {
    if (closed.get()) {
      throw new IllegalStateException("KV-event subscribers are closed");
    }
    commands.add(command);
    signal();
  }

  private void signal() {
    try {
      wakeup.sink().write(ByteBuffer.wrap(new byte[] {1}));
    } catch (IOException e) {
      // Closed: the I/O thread has stopped.
    }
  }

  private static void join(Thread thread) {
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

  // ---- I/O thread ----

  private void pollLoop() {
    ByteBuffer drain = ByteBuffer.allocate(64);
    try {
      while (running) {
        if (poller == null) {
          rebuildPoller();
        }
        poller.poll(-1);
        if (poller.pollin(0)) {
          do {
            drain.clear();
          } while (wakeup.source().read(drain) > 0);
        }
        Runnable command;
        while ((command = commands.poll()) != null) {
          try {
            command.run();
          } catch (RuntimeException e) {
            log.warn("KV-event subscription change failed: {}", e.toString());
          }
        }
        if (!running || poller == null) {
          continue;
        }
        for (int i = 0; i < polled.size(); i++) {
          if (poller.pollin(i + 1)) {
            receive(polled.get(i));
          }
        }
      }
    } catch (IOException | RuntimeException e) {
      log.error("KV-event I/O thread failed; no more KV events are received", e);
    } finally {
      if (poller != null) {
        poller.close();
      }
      for (Subscription s : subscriptions.values()) {
        s.socket.close();
      }
    }
  }

  private void rebuildPoller() {
    if (poller != null) {
      poller.close();
    }
    polled = new ArrayList<>(subscriptions.values());
    poller = context.createPoller(polled.size() + 1);
    poller.register(wakeup.source(), ZMQ.Poller.POLLIN);
    for (Subscription s : polled) {
      poller.register(s.socket, ZMQ.Poller.POLLIN);
    }
  }

  private void open(String name, String url, String replayUrl) {
    Subscription current = subscriptions.get(name);
    if (current != null && current.url.equals(url)) {
      return;
    }
    if (current != null) {
      closeSubscription(name);
    }
    ZMQ.Socket socket = context.createSocket(SocketType.SUB);
    socket.setLinger(0);
    socket.setRcvHWM(RECEIVE_HIGH_WATER_MARK);
    socket.setHandshakeIvl(HANDSHAKE_TIMEOUT_MILLIS);
    socket.setMaxMsgSize(KvEventDecoder.MAX_PAYLOAD_BYTES);
    socket.setIPv6(url.startsWith("tcp://["));
    socket.subscribe(topicFilter);
    try {
      socket.connect(url);
    } catch (RuntimeException e) {
      socket.close();
      throw e;
    }
    subscriptions.put(name, new Subscription(name, url, replayUrl, socket, worker(name)));
    poller = invalidated();
    log.debug("Subscribed to KV events of {} at {}", name, url);
  }

  private void closeSubscription(String name) {
    Subscription s = subscriptions.remove(name);
    if (s == null) {
      return;
    }
    s.socket.close();
    s.worker.clear(s.name);
    poller = invalidated();
    log.debug("Unsubscribed from KV events of {} at {}", name, s.url);
  }

  private ZMQ.Poller invalidated() {
    if (poller != null) {
      poller.close();
    }
    return null;
  }

  private void receive(Subscription s) {
    for (int n = 0; n < MAX_MESSAGES_PER_POLL; n++) {
      byte[] first = s.socket.recv(ZMQ.DONTWAIT);
      if (first == null) {
        return;
      }
      byte[][] frames = new byte[MAX_FRAMES][];
      frames[0] = first;
      int count = 1;
      while (s.socket.hasReceiveMore()) {
        byte[] frame = s.socket.recv(0);
        if (count < MAX_FRAMES) {
          frames[count] = frame;
        }
        count++;
      }
      metrics.recordKvEventMessage(s.name);
      if (count != MAX_FRAMES) {
        metrics.recordKvEventDropped(s.name, KvEventWorker.MALFORMED);
        log.debug("Dropped a KV-event message of {} frames from {}", count, s.name);
      } else if (!s.worker.offer(s.name, s.replayUrl, frames[0], frames[1], frames[2])) {
        metrics.recordKvEventDropped(s.name, KvEventWorker.QUEUE_FULL);
      }
    }
  }

  private KvEventWorker worker(String name) {
    return workers[Math.floorMod(name.hashCode(), workers.length)];
  }

  /** One endpoint's socket. */
  private record Subscription(String name, String url, String replayUrl, ZMQ.Socket socket, KvEventWorker worker) {}

  /** Builds {@link KvEventSubscribers}; defaults are llm-d's. */
  public static final class Builder {
    private final KvEventSink sink;
    private int socketPort = 5557;
    private String topicFilter = "kv@";
    private int concurrency = 4;
    private int replaySocketPort;
    private int queueCapacity = 1024;
    private MetricsRecorder metrics = MetricsRecorder.noop();

    private Builder(KvEventSink sink) {
      this.sink = Objects.requireNonNull(sink, "sink");
    }

    /** The base port of the publishers (default 5557); rank {@code r} publishes on {@code socketPort + r}. */
    public Builder socketPort(int value) {
      this.socketPort = port("socketPort", value, 1);
      return this;
    }

    /** The topic prefix subscribed to (default {@code kv@}). */
    public Builder topicFilter(String value) {
      this.topicFilter = Objects.requireNonNull(value, "topicFilter");
      return this;
    }

    /** Threads decoding and applying events (default 4); one endpoint's events always go to the same thread. */
    public Builder concurrency(int value) {
      if (value < 1) {
        throw new IllegalArgumentException("concurrency must be at least 1, got " + value);
      }
      this.concurrency = value;
      return this;
    }

    /**
     * The publishers' replay (ROUTER) port, or 0 for none (default); rank {@code r} replays on
     * {@code replaySocketPort + r}. With one, lost messages (and, on joining, the messages published before) are
     * requested from the publisher's buffer; the endpoint's blocks are cleared only when the replay fails.
     */
    public Builder replaySocketPort(int value) {
      this.replaySocketPort = port("replaySocketPort", value, 0);
      return this;
    }

    /** The most messages each worker queues (default 1024); further messages are dropped and counted. */
    public Builder queueCapacity(int value) {
      if (value < 1) {
        throw new IllegalArgumentException("queueCapacity must be at least 1, got " + value);
      }
      this.queueCapacity = value;
      return this;
    }

    /** Where events received, dropped and lost are counted (default: nowhere). */
    public Builder metrics(MetricsRecorder value) {
      this.metrics = Objects.requireNonNull(value, "metrics");
      return this;
    }

    /** Starts the subscriber threads. */
    public KvEventSubscribers build() {
      return new KvEventSubscribers(this);
    }

    private static int port(String what, int value, int min) {
      if (value < min || value > 65535) {
        throw new IllegalArgumentException(what + " must be in " + min + "..65535, got " + value);
      }
      return value;
    }
  }
}
