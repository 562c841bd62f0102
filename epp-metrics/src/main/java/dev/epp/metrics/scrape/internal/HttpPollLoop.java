package dev.epp.metrics.scrape.internal;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.net.UnknownHostException;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.channels.UnresolvedAddressException;
import java.nio.channels.UnsupportedAddressTypeException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Polls plain-HTTP URLs at a fixed rate from one thread: a selector loop over non-blocking HTTP/1.1 GETs, each URL on
 * its own kept-alive connection. A poll is abandoned after the timeout (connection to last body byte), but what has
 * arrived by then is read first: a response that came in time while the thread was busy with other polls counts. A
 * new poll of a URL starts only when its previous one has finished, and the ticks that passed meanwhile are skipped.
 *
 * <p>Ticks are batched: when the loop wakes for one URL's tick, it also starts every poll whose tick falls within the
 * next tenth of the interval. So the thread wakes a few times per interval however many URLs it polls, and reads the
 * responses of a batch mostly without sleeping in between; a thread switch costs more than reading a page.
 *
 * <p>A kept-alive connection that fails before any byte of the response arrived (the server closed it while it was
 * idle) is replaced once within the same poll, as the JDK client does for idempotent requests; a connection the server
 * closes while idle is dropped at once. A poll reads at most {@value #READ_BUDGET_BYTES} bytes per wake-up, so a
 * fast server cannot hold the thread past other polls' ticks or its own deadline. Host names are resolved on the
 * loop's thread, once and again after each failed poll: a slow resolver delays the loop's other polls. An exception
 * or error in one poll, or in its listener, fails that poll only.
 *
 * <p>A poll holds a read buffer only while its response arrives, taking it from the loop's {@link BufferPool} and
 * returning it there, so memory per URL stays small however many URLs the loop polls or wait for answers. Requests
 * ask for {@code Accept-Encoding: identity}; a 200 response in another content coding fails the poll.
 *
 * <p><b>Threading:</b> thread-safe. {@link Listener}s are called on the loop's thread, one poll at a time, and must not
 * block.
 */
public final class HttpPollLoop implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(HttpPollLoop.class);
  private static final long MAX_SLEEP_NANOS = 1_000_000_000L;
  /** Bytes one poll may read per wake-up before the others get their turn. */
  private static final int READ_BUDGET_BYTES = 256 * 1024;
  
  /** Receives the outcome of each poll of one URL, on the loop's thread. */
  public interface Listener {

    /** A 200 response whose body is {@code page[0, length)}, valid only during this call. */
    void page(byte[] page, int length);

    /**
     * A failed poll: an {@link HttpTimeoutException} past the timeout, a {@link CappedBody.TooLargeException} for a
     * body over the cap, or another {@link IOException} (connection failure, malformed response, a status other than
     * 200).
     */
    void failed(IOException e);
  }

  private final long intervalNanos;
  private final long batchNanos;
  private final long timeoutNanos;
  private final int maxBytes;
  private final Selector selector;
  private final Queue<Runnable> tasks = new ConcurrentLinkedQueue<>();
  private final List<Poll> polls = new ArrayList<>(); // the loop's thread only
  /**
   * When some poll next needs a tick (a poll to start or a deadline to enforce); the loop's thread only. The polls are
   * scanned only then, not on every wake-up for a response, and a poll whose next need comes earlier lowers it.
   */
  private long nextScan = System.nanoTime();
  private final AtomicInteger size = new AtomicInteger();
  private final ByteBuffer idleRead = ByteBuffer.allocate(256);
  /** Read buffers of finished polls: a poll takes one when its response starts to arrive. */
  private final BufferPool buffers = new BufferPool();
  private volatile boolean closed;

  /**
   * Starts the loop's thread, made by {@code threads}.
   *
   * @param maxBytes the largest body accepted
   * @throws java.io.UncheckedIOException if no selector can be opened
   */
  public HttpPollLoop(ThreadFactory threads, Duration interval, Duration timeout, int maxBytes) {
    this.intervalNanos = interval.toNanos();
    this.batchNanos = intervalNanos / 10;
    this.timeoutNanos = timeout.toNanos();
    this.maxBytes = maxBytes;
    try {
      this.selector = Selector.open();
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    threads.newThread(this::run).start();
  }

  /** Daemon threads named {@code prefix-1}, {@code prefix-2}, ... */
  public static ThreadFactory daemonThreads(String prefix) {
    AtomicInteger count = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + "-" + count.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  /**
   * Starts polling {@code GET path} on {@code host:port} every interval, the first time after {@code initialDelay}.
   *
   * @param host a name or IP address (IPv6 without brackets)
   */
  public Poll add(String host, int port, String path, String accept, long initialDelayNanos, Listener listener) {
    Poll poll = new Poll(host, port, path, accept, System.nanoTime() + initialDelayNanos, listener);
    size.incrementAndGet();
    execute(() -> {
      polls.add(poll);
      poll.needTick(poll.next);
    });
    return poll;
  }

  /** How many URLs the loop polls. */
  public int size() {
    return size.get();
  }

  /** The bytes of the read buffers held by polls and kept spare, counted on the loop's thread. For tests. */
  long bufferBytes() throws Exception {
    CompletableFuture<Long> bytes = new CompletableFuture<>();
    execute(() -> {
      long n = buffers.spareBytes();
      for (Poll poll : polls) {
        byte[] buffer = poll.response.buffer();
        n += buffer == null ? 0 : buffer.length;
      }
      bytes.complete(n);
    });
    return bytes.get(10, TimeUnit.SECONDS);
  }

  /** Stops all polls and the thread, closing every connection. Idempotent. */
  @Override
  public void close() {
    closed = true;
    selector.wakeup();
  }

  private void execute(Runnable task) {
    tasks.add(task);
    selector.wakeup();
  }

  private void run() {
    try {
      while (!closed) {
        Thread.interrupted(); // the thread is ours and ends by close(); a stray interrupt must not make select spin
        for (Runnable task; (task = tasks.poll()) != null; ) {
          task.run();
        }
        long now = System.nanoTime();
        if (nextScan - now <= 0) {
          nextScan = now + MAX_SLEEP_NANOS;
          for (int i = 0; i < polls.size(); i++) {
            polls.get(i).needTick(polls.get(i).tick(now));
          }
        }
        long wait = nextScan - now;
        if (wait <= 0) {
          selector.selectNow(this::ready);
        } else {
          selector.select(this::ready, Math.max(1, (wait + 999_999) / 1_000_000));
        }
      }
    } catch (IOException | RuntimeException | Error e) {
      log.error("The metrics poll loop stopped", e);
    } finally {
      for (Poll poll : polls) {
        poll.disconnect();
      }
      try {
        selector.close();
      } catch (IOException ignored) {
        // nothing to do
      }
    }
  }

  private void ready(SelectionKey key) {
    ((Poll) key.attachment()).ready(key);
  }

  /** The polling of one URL. */
  public final class Poll {
    private static final int IDLE = 0;
    private static final int CONNECTING = 1;
    private static final int SENDING = 2;
    private static final int RECEIVING = 3;

    private final String host;
    private final int port;
    private final ByteBuffer request;
    private final Listener listener;
    private final HttpResponseParser response = new HttpResponseParser(maxBytes);
    private final AtomicBoolean cancelled = new AtomicBoolean();
    // The loop's thread only:
    private long next;
    private long deadline;
    private int state = IDLE;
    private InetSocketAddress address; // resolved; null until the first connection and after a failed poll
    private SocketChannel channel;
    private SelectionKey key;
    private boolean reused; // the request went out on a connection that carried an earlier one
    private boolean received; // a byte of the current response has arrived

    private Poll(String host, int port, String path, String accept, long first, Listener listener) {
      this.host = host;
      this.port = port;
      String hostHeader = (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
      this.request = ByteBuffer.wrap(("GET " + path + " HTTP/1.1\r\nHost: " + hostHeader + "\r\nAccept: " + accept
          + "\r\nAccept-Encoding: identity\r\nUser-Agent: epp-java\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
      this.next = first;
      this.listener = listener;
    }

    /**
     * Stops polling and closes the connection. A listener call already under way on the loop's thread may still
     * happen; none follows it. Idempotent.
     */
    public void cancel() {
      if (cancelled.compareAndSet(false, true)) {
        size.decrementAndGet();
        execute(() -> {
          polls.remove(this);
          disconnect();
          buffers.give(response.release());
        });
      }
    }

    /** Starts a due poll or fails an overdue one; returns when this poll next needs the loop. */
    private long tick(long now) {
      try {
        return advance(now);
      } catch (RuntimeException | Error e) {
        crashed(e);
        return next;
      }
    }

    private long advance(long now) {
      if (state == IDLE) {
        if (next - now > batchNanos) {
          return next;
        }
        start(now);
        if (state == IDLE) {
          return next; // failed at once
        }
      } else if (deadline - now <= 0) {
        if (state == RECEIVING) { // what arrived while the loop was busy elsewhere still counts
          try {
            receive();
          } catch (IOException e) {
            fail(e);
          }
          if (state == IDLE) {
            return next;
          }
        }
        fail(new HttpTimeoutException("no complete response within " + timeoutNanos / 1_000_000 + " ms"));
        return next;
      }
      return deadline;
    }

    private void start(long now) {
      deadline = now + timeoutNanos;
      received = false;
      state = SENDING; // in flight: a reused connection failing from here on is replaced once
      try {
        if (channel != null) {
          reused = true;
          send();
        } else {
          connect();
        }
      } catch (IOException e) {
        failed(e);
      }
    }

    private void connect() throws IOException {
      reused = false;
      SocketChannel ch = SocketChannel.open();
      channel = ch;
      ch.configureBlocking(false);
      ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
      key = ch.register(selector, 0, this);
      if (address == null) {
        address = new InetSocketAddress(host, port);
      }
      boolean connected;
      try {
        connected = ch.connect(address);
      } catch (UnresolvedAddressException e) {
        throw new UnknownHostException(host);
      } catch (UnsupportedAddressTypeException e) {
        throw new IOException("cannot connect to " + host + ": " + e, e);
      }
      if (connected) {
        send();
      } else {
        state = CONNECTING;
        key.interestOps(SelectionKey.OP_CONNECT);
      }
    }

    private void send() throws IOException {
      request.rewind();
      channel.write(request);
      if (request.hasRemaining()) {
        state = SENDING;
        key.interestOps(SelectionKey.OP_WRITE);
      } else {
        state = RECEIVING;
        key.interestOps(SelectionKey.OP_READ);
      }
    }

    private void ready(SelectionKey k) {
      if (k != key || !k.isValid()) {
        return;
      }
      if (state == IDLE) {
        // The server closed the idle connection (or sent bytes nobody asked for): drop it now.
        idleRead.clear();
        try {
          if (channel.read(idleRead) != 0) {
            disconnect();
          }
        } catch (IOException e) {
          disconnect();
        }
        return;
      }
      try {
        switch (state) {
          case CONNECTING -> {
            if (channel.finishConnect()) {
              send();
            }
          }
          case SENDING -> {
            channel.write(request);
            if (!request.hasRemaining()) {
              state = RECEIVING;
              key.interestOps(SelectionKey.OP_READ);
            }
          }
          default -> receive();
        }
      } catch (IOException e) {
        failed(e);
      } catch (RuntimeException | Error e) {
        crashed(e);
      }
    }

    private void receive() throws IOException {
      if (response.buffer() == null) {
        response.start(buffers.take()); // only now: a poll waiting for its response holds no buffer
      }
      for (int budget = READ_BUDGET_BYTES; budget > 0; ) {
        int n = response.readFrom(channel);
        if (n == 0) {
          return;
        }
        received |= n > 0;
        if (response.advance(n < 0)) {
          complete();
          return;
        }
        if (n < 0) {
          throw new IOException("connection closed before the end of the response");
        }
        budget -= n;
      }
      // More is waiting: the selector reports it again after the other polls' ticks and this one's deadline.
    }

    private void complete() {
      if (response.reusable()) {
        key.interestOps(SelectionKey.OP_READ); // to notice the server closing it while idle
      } else {
        disconnect();
      }
      int status = response.status();
      String encoding = response.contentEncoding();
      if (status != 200 || encoding != null) {
        idle();
        notifyFailed(status != 200 ? new IOException("HTTP status " + status)
            : HttpResponseParser.encodedBody(encoding));
        return;
      }
      if (!cancelled.get()) {
        try {
          listener.page(response.buffer(), response.bodyLength());
        } catch (RuntimeException | Error e) {
          log.warn("A metrics page listener failed", e);
        }
      }
      idle();
    }

    /** A failure in connecting, sending or receiving; a reused connection that died unanswered is replaced once. */
    private void failed(IOException e) {
      if (reused && !received && state != IDLE) {
        disconnect();
        buffers.give(response.release());
        try {
          connect();
          return;
        } catch (IOException again) {
          e = again;
        }
      }
      fail(e);
    }

    private void fail(IOException e) {
      disconnect();
      address = null; // resolved again for the next poll
      idle();
      notifyFailed(e);
    }

    /** A bug or a resource failure (not an I/O one) in this poll: fails the poll only. */
    private void crashed(Throwable t) {
      log.warn("Polling {}:{} failed unexpectedly", host, port, t);
      fail(new IOException(t.toString(), t));
    }

    private void notifyFailed(IOException e) {
      if (!cancelled.get()) {
        try {
          listener.failed(e);
        } catch (RuntimeException | Error error) {
          log.warn("A metrics page listener failed", error);
        }
      }
    }

    /** Ends the poll in progress and schedules the next tick, skipping the ones that passed. */
    private void idle() {
      buffers.give(response.release());
      state = IDLE;
      next += intervalNanos;
      long now = System.nanoTime();
      if (next - now <= 0) {
        next += ((now - next) / intervalNanos + 1) * intervalNanos;
      }
      needTick(next);
    }

    /** Makes the loop scan the polls at {@code time} at the latest. */
    private void needTick(long time) {
      if (time - nextScan < 0) {
        nextScan = time;
      }
    }

    private void disconnect() {
      SocketChannel ch = channel;
      channel = null;
      key = null;
      if (ch != null) {
        try {
          ch.close(); // also cancels its key
        } catch (IOException ignored) {
          // nothing to do
        }
      }
    }
  }
}
