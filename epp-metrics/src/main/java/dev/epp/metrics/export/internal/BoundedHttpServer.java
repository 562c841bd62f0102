package dev.epp.metrics.export.internal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A small HTTP/1.1 server that no client can hold, for endpoints such as {@code /metrics}. One thread reads request
 * heads and writes responses without blocking; a pool of {@value #WORKERS} threads only computes the responses that
 * need work, once their request is complete. So a client that connects and sends nothing, or half a request, or reads
 * its response slowly, costs a connection slot and nothing else until its deadline, and never delays another client.
 *
 * <p>Limits: a request head must arrive within the head timeout (else the connection is closed) and fit in
 * {@value #MAX_HEAD_BYTES} bytes (else 431); a response must be written within the write timeout (else the connection is closed); at most
 * {@value #MAX_CONNECTIONS} connections are open (for a new one, the one waiting longest for its head is dropped);
 * at most {@value #MAX_IN_FLIGHT} responses are computed or written at once (more get 503). Each connection carries
 * one request ({@code Connection: close}); a request body is not read. A handler that throws gets its client a 500.
 *
 * <p><b>Threading:</b> thread-safe. {@link Handler#answer} runs on the server's thread, {@link Handler#compute} on
 * the pool.
 */
public final class BoundedHttpServer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(BoundedHttpServer.class);

  static final int MAX_HEAD_BYTES = 8 * 1024;
  static final int MAX_CONNECTIONS = 64;
  static final int MAX_IN_FLIGHT = 4;
  static final int WORKERS = 2;
  private static final int WRITE_SLICE_BYTES = 64 * 1024;
  /** Bytes written to one client per wake-up, so that a large page does not delay the others. */
  private static final int WRITE_BUDGET_BYTES = 1024 * 1024;
  private static final long ACCEPT_BACKOFF_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
  private static final long CLOSE_GRACE_NANOS = TimeUnit.SECONDS.toNanos(1);

  /** A request: method, path (without query) and headers by lower-case name (the first of each). */
  public record Request(String method, String path, Map<String, String> headers) {}

  /** A response; {@code body} is not modified, so one response may be sent many times. */
  public record Response(int status, Map<String, String> headers, ByteBuffer body) {

    /** A {@code text/plain} response of {@code text}. */
    public static Response text(int status, String text) {
      return new Response(status, Map.of("Content-Type", "text/plain; charset=utf-8"),
          ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)));
    }
  }

  /** Answers requests. */
  public interface Handler {

    /**
     * The response to send at once, or {@code null} to have {@link #compute} produce it on the pool. Runs on the
     * server's thread: must be quick and must not block.
     */
    Response answer(Request request);

    /** The response to {@code request}, for which {@link #answer} returned {@code null}. */
    Response compute(Request request);
  }

  private static final Response INTERNAL_ERROR = Response.text(500, "500 internal server error\n");

  private enum State { HEAD, COMPUTING, WRITING, CLOSED }

  private final Handler handler;
  private final long headTimeoutNanos;
  private final long writeTimeoutNanos;
  private final Selector selector;
  private final ServerSocketChannel listener;
  private final int port;
  private final ThreadPoolExecutor pool;
  private final Thread thread;
  private final Set<Connection> connections = new LinkedHashSet<>(); // oldest first; confined to the thread
  private final Queue<Connection> computed = new ConcurrentLinkedQueue<>();
  private final AtomicInteger inFlight = new AtomicInteger();
  private volatile boolean closing;

  private BoundedHttpServer(InetSocketAddress address, Duration headTimeout, Duration writeTimeout,
      ThreadFactory threads, Handler handler) throws IOException {
    this.handler = handler;
    this.headTimeoutNanos = headTimeout.toNanos();
    this.writeTimeoutNanos = writeTimeout.toNanos();
    selector = Selector.open();
    try {
      listener = ServerSocketChannel.open();
      listener.setOption(StandardSocketOptions.SO_REUSEADDR, true);
      listener.bind(address);
      listener.configureBlocking(false);
      listener.register(selector, SelectionKey.OP_ACCEPT);
      port = listener.socket().getLocalPort();
    } catch (IOException e) {
      selector.close();
      throw e;
    }
    pool = new ThreadPoolExecutor(WORKERS, WORKERS, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(MAX_IN_FLIGHT),
        threads);
    thread = threads.newThread(this::run);
  }

  /**
   * Starts serving on {@code address}.
   *
   * @param threads makes the server thread and the page-rendering threads; they end on {@link #close()}
   * @throws UncheckedIOException if the address cannot be bound
   */
  public static BoundedHttpServer start(InetSocketAddress address, Duration headTimeout, Duration writeTimeout,
      ThreadFactory threads, Handler handler) {
    BoundedHttpServer server;
    try {
      server = new BoundedHttpServer(address, headTimeout, writeTimeout, threads, handler);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    server.thread.start();
    return server;
  }

  /** The port listened on. */
  public int port() {
    return port;
  }

  /**
   * Stops accepting at once, gives responses under way up to one second to be written, then closes every connection.
   * Idempotent.
   */
  @Override
  public void close() {
    closing = true;
    selector.wakeup();
    try {
      thread.join(2 * TimeUnit.NANOSECONDS.toMillis(CLOSE_GRACE_NANOS));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    pool.shutdownNow();
  }

  private void run() {
    long closeDeadline = 0;
    try {
      while (true) {
        long now = System.nanoTime();
        if (closing) {
          if (closeDeadline == 0) {
            closeDeadline = now + CLOSE_GRACE_NANOS;
            listener.close();
            for (Connection c : List.copyOf(connections)) {
              if (c.state == State.HEAD) {
                c.close();
              }
            }
          }
          if (connections.isEmpty() || now - closeDeadline >= 0) {
            break;
          }
        }
        selector.select(Math.max(1, TimeUnit.NANOSECONDS.toMillis(nextDeadline(now) - now)));
        for (Connection c; (c = computed.poll()) != null; ) {
          c.startWriting();
        }
        Iterator<SelectionKey> keys = selector.selectedKeys().iterator();
        while (keys.hasNext()) {
          SelectionKey key = keys.next();
          keys.remove();
          if (!key.isValid()) {
            continue;
          }
          if (key.isAcceptable()) {
            accept();
          } else if (key.attachment() instanceof Connection c) {
            c.ready();
          }
        }
        expire(System.nanoTime());
      }
    } catch (IOException | RuntimeException e) {
      log.error("HTTP server on port {} stopped: {}", port, e.toString());
    } finally {
      List.copyOf(connections).forEach(Connection::close);
      try {
        listener.close();
        selector.close();
      } catch (IOException ignored) {
        // closing
      }
    }
  }

  private long nextDeadline(long now) {
    long next = now + TimeUnit.SECONDS.toNanos(1);
    for (Connection c : connections) {
      if (c.state != State.COMPUTING && c.deadline - next < 0) {
        next = c.deadline;
      }
    }
    return next;
  }

  /** Closes the connections whose head or response is late. */
  private void expire(long now) {
    for (Connection c : List.copyOf(connections)) {
      if (c.state != State.COMPUTING && now - c.deadline >= 0) {
        c.close();
      }
    }
  }

  private void accept() throws IOException {
    SocketChannel channel;
    try {
      channel = listener.accept();
    } catch (IOException e) { // out of file descriptors, say: back off rather than spin, then go on serving
      log.warn("HTTP server on port {} cannot accept a connection: {}", port, e.toString());
      LockSupport.parkNanos(ACCEPT_BACKOFF_NANOS);
      return;
    }
    if (channel == null) {
      return;
    }
    if (connections.size() >= MAX_CONNECTIONS && !dropOldestWaitingForItsHead()) {
      channel.close(); // every slot is busy with a request: the client retries
      return;
    }
    channel.configureBlocking(false);
    Connection c = new Connection(channel, System.nanoTime() + headTimeoutNanos);
    c.key = channel.register(selector, SelectionKey.OP_READ, c);
    connections.add(c);
  }

  private boolean dropOldestWaitingForItsHead() {
    for (Connection c : connections) {
      if (c.state == State.HEAD) {
        c.close();
        return true;
      }
    }
    return false;
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

  /** One client connection; confined to the server thread except {@link #compute}. */
  private final class Connection {
    final SocketChannel channel;
    SelectionKey key;
    State state = State.HEAD;
    long deadline;
    ByteBuffer head = ByteBuffer.allocate(MAX_HEAD_BYTES);
    int scanned; // head bytes searched for the blank line
    ByteBuffer[] out;
    Response computedResponse; // handed over by the computed queue
    boolean headOnly;
    boolean counted;

    Connection(SocketChannel channel, long deadline) {
      this.channel = channel;
      this.deadline = deadline;
    }

    void ready() {
      try {
        if (state == State.HEAD) {
          read();
        } else if (state == State.WRITING) {
          write();
        }
      } catch (IOException e) {
        close();
      }
    }

    private void read() throws IOException {
      if (channel.read(head) < 0) {
        close();
        return;
      }
      int end = headEnd();
      if (end < 0) {
        if (!head.hasRemaining()) {
          respond(Response.text(431, "431 request header fields too large\n"));
        }
        return;
      }
      Request request = parse(new String(head.array(), 0, end, StandardCharsets.ISO_8859_1));
      if (request == null) {
        respond(Response.text(400, "400 bad request\n"));
        return;
      }
      headOnly = request.method().equals("HEAD");
      Response answer;
      try {
        answer = handler.answer(request);
      } catch (RuntimeException e) {
        log.warn("{} {} failed: {}", request.method(), request.path(), e.toString());
        answer = INTERNAL_ERROR;
      }
      if (answer != null) {
        respond(answer);
      } else if (inFlight.incrementAndGet() > MAX_IN_FLIGHT) {
        inFlight.decrementAndGet();
        respond(Response.text(503, "503 service unavailable: too many requests in progress, retry\n"));
      } else {
        counted = true;
        state = State.COMPUTING;
        key.interestOps(0);
        try {
          pool.execute(() -> compute(request));
        } catch (RejectedExecutionException e) { // closing
          respond(Response.text(503, "503 service unavailable: shutting down\n"));
        }
      }
    }

    /** On a pool thread. */
    private void compute(Request request) {
      Response result = null;
      try {
        result = handler.compute(request);
      } catch (RuntimeException | OutOfMemoryError e) {
        log.warn("{} {} failed: {}", request.method(), request.path(), e.toString());
      } finally { // even for another Error, so that the client is never left waiting
        computedResponse = result != null ? result : INTERNAL_ERROR;
        computed.add(this);
        selector.wakeup();
      }
    }

    void startWriting() {
      if (state == State.COMPUTING) {
        respond(computedResponse);
      }
    }

    void respond(Response r) {
      head = null;
      computedResponse = null;
      StringBuilder sb = new StringBuilder(128).append("HTTP/1.1 ").append(r.status()).append(' ')
          .append(reason(r.status())).append("\r\n");
      r.headers().forEach((name, value) -> sb.append(name).append(": ").append(value).append("\r\n"));
      sb.append("Content-Length: ").append(r.body().remaining()).append("\r\nConnection: close\r\n\r\n");
      ByteBuffer status = ByteBuffer.wrap(sb.toString().getBytes(StandardCharsets.ISO_8859_1));
      out = headOnly ? new ByteBuffer[] {status} : new ByteBuffer[] {status, r.body().duplicate()};
      state = State.WRITING;
      deadline = System.nanoTime() + writeTimeoutNanos;
      try {
        write();
        if (state == State.WRITING) {
          key.interestOps(SelectionKey.OP_WRITE);
        }
      } catch (IOException e) {
        close();
      }
    }

    /**
     * Writes until the socket's buffer is full or {@value #WRITE_BUDGET_BYTES} bytes went out, in slices: a heap buffer
     * is copied to a native one whole at every write, however little of it the socket takes.
     */
    private void write() throws IOException {
      int budget = WRITE_BUDGET_BYTES;
      for (ByteBuffer b : out) {
        while (b.hasRemaining()) {
          int limit = b.limit();
          b.limit(Math.min(limit, b.position() + WRITE_SLICE_BYTES));
          int written = channel.write(b);
          b.limit(limit);
          budget -= written;
          if (written == 0 || budget <= 0) {
            return; // the rest when the socket is writable again
          }
        }
      }
      close();
    }

    void close() {
      connections.remove(this);
      if (counted) {
        counted = false;
        inFlight.decrementAndGet();
      }
      state = State.CLOSED;
      head = null;
      out = null;
      try {
        channel.close();
      } catch (IOException ignored) {
        // already gone
      }
    }

    /** The length of the head up to its blank line, or -1 while it is incomplete. */
    private int headEnd() {
      byte[] b = head.array();
      int n = head.position();
      for (int i = scanned; i < n; i++) {
        if (b[i] == '\n' && (i + 1 < n && b[i + 1] == '\n'
            || i + 2 < n && b[i + 1] == '\r' && b[i + 2] == '\n')) {
          return i;
        }
      }
      scanned = Math.max(0, n - 2); // the blank line may straddle this read and the next
      return -1;
    }
  }

  /** The request in {@code head} (request line and header lines), or {@code null} if it is not HTTP/1.x. */
  static Request parse(String head) {
    String[] lines = head.split("\r?\n");
    String[] requestLine = lines[0].strip().split(" ", -1);
    if (requestLine.length != 3 || !requestLine[2].startsWith("HTTP/1.") || requestLine[0].isEmpty()) {
      return null;
    }
    String target = requestLine[1];
    if (target.startsWith("http://") || target.startsWith("https://")) {
      int slash = target.indexOf('/', target.indexOf("//") + 2);
      target = slash < 0 ? "/" : target.substring(slash);
    }
    int query = target.indexOf('?');
    String path = query < 0 ? target : target.substring(0, query);
    if (!path.startsWith("/")) {
      return null;
    }
    Map<String, String> headers = new HashMap<>();
    for (int i = 1; i < lines.length; i++) {
      int colon = lines[i].indexOf(':');
      if (colon <= 0) {
        return null;
      }
      headers.putIfAbsent(lines[i].substring(0, colon).strip().toLowerCase(Locale.ROOT),
          lines[i].substring(colon + 1).strip());
    }
    return new Request(requestLine[0], path, Map.copyOf(headers));
  }

  private static String reason(int status) {
    return switch (status) {
      case 200 -> "OK";
      case 400 -> "Bad Request";
      case 401 -> "Unauthorized";
      case 404 -> "Not Found";
      case 405 -> "Method Not Allowed";
      case 431 -> "Request Header Fields Too Large";
      case 500 -> "Internal Server Error";
      case 503 -> "Service Unavailable";
      default -> "";
    };
  }
}
