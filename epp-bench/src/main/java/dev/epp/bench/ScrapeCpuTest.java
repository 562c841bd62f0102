package dev.epp.bench;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.EndpointStore;
import dev.epp.api.scheduling.Candidates;
import dev.epp.metrics.scrape.MetricsScraper;
import dev.epp.scheduler.EndpointPool;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.management.ThreadMXBean;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;
import javax.management.ObjectName;

/**
 * What the metrics scraper costs for many endpoints: a child JVM serves the 51 KB vLLM {@code /metrics} page on
 * {@code --endpoints} loopback ports (one selector thread per 2,500 ports; each endpoint is scraped on its own
 * kept-alive connection, as pods are; header and body go out in two writes), and this JVM scrapes them all with the
 * real {@link MetricsScraper} ({@code --threads} poll loops, default 2) into an {@link EndpointPool} every
 * {@code --interval-ms} for {@code --seconds} after a warm-up. It prints:
 *
 * <ul>
 *   <li>the time from {@link MetricsScraper#start()} until every endpoint has been scraped successfully once;
 *   <li>the scraper process's CPU time divided by wall time (cores used) and per page scraped, the pages scraped per
 *       second against the nominal rate, and the server process's cores for comparison (the scraper's figure holds
 *       none of the serving cost);
 *   <li>the scraper process's live threads (an idle JVM's plus the poll loops: constant in the number of endpoints)
 *       and how many threads it started per second while measured (none are expected);
 *   <li>its live heap after a full GC, and the growth over the heap before the pool existed per endpoint; with
 *       {@code --histogram N}, the top {@code N} classes of the live heap.
 * </ul>
 *
 * <p>The warm-up (default 20 s) lets the JIT settle first. The child needs two file descriptors per endpoint and this
 * JVM one ({@code ulimit -n}). At thousands of endpoints raise the interval: 5,000 endpoints every 50 ms would be
 * 100,000 pages per second.
 *
 * <p>Run: {@code java -cp epp-bench/target/benchmarks.jar dev.epp.bench.ScrapeCpuTest --endpoints 100 --interval-ms 50
 * --seconds 20}, or {@code java -Xmx512m -cp epp-bench/target/benchmarks.jar dev.epp.bench.ScrapeCpuTest --endpoints
 * 5000 --interval-ms 1000 --seconds 20 --histogram 20}.
 */
public final class ScrapeCpuTest {

  private static final int PORTS_PER_SELECTOR = 2500;

  private ScrapeCpuTest() {}

  /** Runs the test (or, with {@code --serve N}, the servers of the child process); see the class comment. */
  public static void main(String[] args) throws Exception {
    int endpoints = 100;
    int intervalMs = 50;
    int seconds = 20;
    int warmupSeconds = 20;
    int threads = 2;
    int histogram = 0;
    for (int i = 0; i + 1 < args.length; i += 2) {
      switch (args[i]) {
        case "--serve" -> {
          serve(Integer.parseInt(args[i + 1]));
          return;
        }
        case "--endpoints" -> endpoints = Integer.parseInt(args[i + 1]);
        case "--interval-ms" -> intervalMs = Integer.parseInt(args[i + 1]);
        case "--seconds" -> seconds = Integer.parseInt(args[i + 1]);
        case "--warmup-seconds" -> warmupSeconds = Integer.parseInt(args[i + 1]);
        case "--threads" -> threads = Integer.parseInt(args[i + 1]);
        case "--histogram" -> histogram = Integer.parseInt(args[i + 1]);
        default -> throw new IllegalArgumentException("unknown flag " + args[i]);
      }
    }
    String java = ProcessHandle.current().info().command().orElse("java");
    Process server = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
        ScrapeCpuTest.class.getName(), "--serve", Integer.toString(endpoints))
        .redirectError(ProcessBuilder.Redirect.INHERIT)
        .start();
    try {
      BufferedReader lines = new BufferedReader(new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8));
      List<Integer> ports = new ArrayList<>();
      for (int i = 0; i < endpoints; i++) {
        String line = lines.readLine();
        if (line == null) {
          throw new IllegalStateException("the server process ended after " + i + " ports (ulimit -n?)");
        }
        ports.add(Integer.parseInt(line.trim()));
      }
      run(ports, intervalMs, threads, warmupSeconds, seconds, histogram, server.toHandle());
    } finally {
      server.destroy();
      server.waitFor();
    }
  }

  private static void run(List<Integer> ports, int intervalMs, int threads, int warmupSeconds, int seconds,
      int histogram, ProcessHandle server) throws Exception {
    long heapBefore = liveHeap();
    int threadsBefore = ManagementFactory.getThreadMXBean().getThreadCount();
    EndpointPool pool = new EndpointPool();
    for (int i = 0; i < ports.size(); i++) {
      pool.upsert(Endpoint.of("pod-" + i + "-rank-0", "127.0.0.1", ports.get(i)));
    }
    CountingStore store = new CountingStore(pool);
    com.sun.management.OperatingSystemMXBean os =
        (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    ThreadMXBean threadBean = ManagementFactory.getThreadMXBean();
    try (MetricsScraper scraper = MetricsScraper.builder(store).interval(java.time.Duration.ofMillis(intervalMs))
        .threads(threads).build()) {
      long start = System.nanoTime();
      scraper.start();
      long readyNanos = awaitAllScraped(pool, start, start + warmupSeconds * 1_000_000_000L);
      long rest = start + warmupSeconds * 1_000_000_000L - System.nanoTime();
      if (rest > 0) {
        Thread.sleep(rest / 1_000_000);
      }
      long started0 = threadBean.getTotalStartedThreadCount();
      long cpu0 = os.getProcessCpuTime();
      long serverCpu0 = cpuNanos(server);
      long updates0 = store.updates.sum();
      long wall0 = System.nanoTime();
      Thread.sleep(seconds * 1000L);
      long wall = System.nanoTime() - wall0;
      long cpu = os.getProcessCpuTime() - cpu0;
      long serverCpu = cpuNanos(server) - serverCpu0;
      long updates = store.updates.sum() - updates0;
      long started = threadBean.getTotalStartedThreadCount() - started0;
      int liveThreads = threadBean.getThreadCount();
      long heap = liveHeap();
      double nominal = ports.size() * 1000.0 / intervalMs;
      int n = ports.size();
      System.out.printf("endpoints %d, interval %d ms, %d s measured after %d s warm-up, max heap %d MiB%n", n,
          intervalMs, seconds, warmupSeconds, Runtime.getRuntime().maxMemory() >> 20);
      System.out.println(readyNanos < 0 ? "ready: not every endpoint was scraped within the warm-up"
          : String.format("ready: every endpoint scraped once %.0f ms after start", readyNanos / 1e6));
      System.out.printf("scraper: %.3f cores (%.1f µs CPU per page), %.0f pages/s of %.0f nominal%n",
          (double) cpu / wall, updates == 0 ? 0 : cpu / 1000.0 / updates, updates * 1e9 / wall, nominal);
      System.out.printf("threads: %d live (%d before the scraper started), %.1f/s started while measured%n",
          liveThreads, threadsBefore, started * 1e9 / wall);
      System.out.printf("heap: %.1f MiB live after full GC, %.0f bytes per endpoint over the %.1f MiB before%n",
          heap / 1048576.0, (double) (heap - heapBefore) / n, heapBefore / 1048576.0);
      System.out.printf("servers (separate process): %.3f cores%n", (double) serverCpu / wall);
      if (histogram > 0) {
        printHistogram(histogram);
      }
    }
  }

  /**
   * Waits until every endpoint of {@code pool} has metrics, at most until {@code deadline}; returns the nanoseconds
   * since {@code start}, or -1 if the deadline passed first.
   */
  private static long awaitAllScraped(EndpointPool pool, long start, long deadline) throws InterruptedException {
    int first = 0; // endpoints before this one have been scraped
    while (System.nanoTime() < deadline) {
      Candidates c = pool.snapshot();
      while (first < c.size() && c.metrics(first) != EndpointMetrics.none()) {
        first++;
      }
      if (first == c.size()) {
        return System.nanoTime() - start;
      }
      Thread.sleep(1);
    }
    return -1;
  }

  /** Heap in use after a full collection. */
  private static long liveHeap() {
    MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
    memory.gc();
    memory.gc();
    return memory.getHeapMemoryUsage().getUsed();
  }

  /** Prints the header and the first {@code lines} classes of {@code jcmd GC.class_histogram}. */
  private static void printHistogram(int lines) throws Exception {
    Object out = ManagementFactory.getPlatformMBeanServer().invoke(
        new ObjectName("com.sun.management:type=DiagnosticCommand"), "gcClassHistogram",
        new Object[] {new String[0]}, new String[] {String[].class.getName()});
    String[] rows = out.toString().split("\n");
    for (int i = 0; i < Math.min(rows.length, lines + 2); i++) {
      System.out.println(rows[i]);
    }
    System.out.println(rows[rows.length - 1]);
  }

  private static long cpuNanos(ProcessHandle process) {
    return process.info().totalCpuDuration().map(java.time.Duration::toNanos).orElse(0L);
  }

  /**
   * The child process: {@code n} loopback ports serving the vLLM page over kept-alive HTTP/1.1, {@value
   * #PORTS_PER_SELECTOR} per selector thread; prints one port per line.
   */
  private static void serve(int n) throws Exception {
    byte[] page;
    try (InputStream in = ScrapeCpuTest.class.getResourceAsStream("vllm-metrics.txt")) {
      page = in.readAllBytes();
    }
    byte[] head = ("HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: " + page.length
        + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
    ByteBuffer[] response = {ByteBuffer.allocateDirect(head.length).put(head).flip(),
        ByteBuffer.allocateDirect(page.length).put(page).flip()};
    InetAddress loopback = InetAddress.getLoopbackAddress();
    for (int from = 0; from < n; from += PORTS_PER_SELECTOR) {
      Selector selector = Selector.open();
      for (int i = from; i < Math.min(n, from + PORTS_PER_SELECTOR); i++) {
        ServerSocketChannel channel = ServerSocketChannel.open();
        channel.bind(new InetSocketAddress(loopback, 0), 64);
        channel.configureBlocking(false);
        channel.register(selector, SelectionKey.OP_ACCEPT);
        System.out.println(((InetSocketAddress) channel.getLocalAddress()).getPort());
      }
      Thread thread = new Thread(() -> serveLoop(selector, response), "serve-" + from);
      thread.start();
    }
    System.out.flush();
    Thread.currentThread().join(); // until the parent destroys this process
  }

  /**
   * Accepts connections and answers every request (a header block ending in a blank line) with {@code response}: the
   * header, then the body, in separate writes on a TCP_NODELAY socket, as a Python model server's HTTP stack sends
   * them.
   */
  private static void serveLoop(Selector selector, ByteBuffer[] response) {
    try {
      while (true) {
        selector.select();
        for (SelectionKey key : selector.selectedKeys()) {
          try {
            if (key.isAcceptable()) {
              SocketChannel channel = ((ServerSocketChannel) key.channel()).accept();
              if (channel != null) {
                channel.configureBlocking(false);
                channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
                channel.register(selector, SelectionKey.OP_READ, new Connection());
              }
            } else {
              ((Connection) key.attachment()).ready(key, response);
            }
          } catch (IOException e) {
            key.cancel();
            key.channel().close();
          }
        }
        selector.selectedKeys().clear();
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** One server-side connection: the request bytes read so far and the response being written. */
  private static final class Connection {
    final ByteBuffer in = ByteBuffer.allocate(4096);
    ByteBuffer head;
    ByteBuffer body;

    void ready(SelectionKey key, ByteBuffer[] response) throws IOException {
      SocketChannel channel = (SocketChannel) key.channel();
      if (head == null) {
        if (channel.read(in) < 0) {
          key.cancel();
          channel.close();
          return;
        }
        int end = headerEnd();
        if (end < 0) {
          if (!in.hasRemaining()) {
            throw new IOException("request header over " + in.capacity() + " bytes");
          }
          return;
        }
        in.flip().position(end);
        in.compact();
        head = response[0].duplicate();
        body = response[1].duplicate();
      }
      if (head.hasRemaining()) {
        channel.write(head);
      }
      if (!head.hasRemaining()) {
        channel.write(body);
      }
      if (body.hasRemaining()) {
        key.interestOps(SelectionKey.OP_WRITE);
      } else {
        head = null;
        key.interestOps(SelectionKey.OP_READ);
      }
    }

    /** The index after the first blank line in the request bytes, or -1. */
    private int headerEnd() {
      for (int i = 3; i < in.position(); i++) {
        if (in.get(i - 3) == '\r' && in.get(i - 2) == '\n' && in.get(i - 1) == '\r' && in.get(i) == '\n') {
          return i + 1;
        }
      }
      return -1;
    }
  }

  /** Passes everything to the pool and counts metric updates. */
  private static final class CountingStore implements EndpointStore {
    final EndpointPool pool;
    final LongAdder updates = new LongAdder();

    CountingStore(EndpointPool pool) {
      this.pool = pool;
    }

    @Override
    public Candidates snapshot() {
      return pool.snapshot();
    }

    @Override
    public boolean upsert(Endpoint endpoint) {
      return pool.upsert(endpoint);
    }

    @Override
    public boolean remove(String name) {
      return pool.remove(name);
    }

    @Override
    public boolean updateMetrics(String name, EndpointMetrics metrics) {
      updates.increment();
      return pool.updateMetrics(name, metrics);
    }

    @Override
    public void addListener(Listener listener) {
      pool.addListener(listener);
    }

    @Override
    public void removeListener(Listener listener) {
      pool.removeListener(listener);
    }
  }
}
