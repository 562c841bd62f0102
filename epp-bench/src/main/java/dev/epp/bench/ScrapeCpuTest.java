package dev.epp.bench;

import com.sun.net.httpserver.HttpServer;
import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.EndpointStore;
import dev.epp.api.scheduling.Candidates;
import dev.epp.metrics.scrape.MetricsScraper;
import dev.epp.scheduler.EndpointPool;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.LongAdder;

/**
 * The CPU the metrics scraper needs for many endpoints: a child JVM serves the 51 KB vLLM {@code /metrics} page
 * from {@code --endpoints} loopback HTTP servers (one port each), and this JVM scrapes them all with the real
 * {@link MetricsScraper} ({@code --threads} poll loops, default 2) every {@code --interval-ms} for {@code --seconds}
 * after a warm-up. It prints the scraper process's CPU time divided by wall time (cores used), the pages scraped per
 * second against the nominal rate, and the server process's cores for comparison. Servers and scraper run in
 * separate processes, so the scraper's figure holds none of the serving cost. The warm-up (default 20 s) lets the JIT
 * settle first. It also prints how many threads the scraper process started per second (none are expected).
 *
 * <p>Run: {@code java -cp epp-bench/target/benchmarks.jar dev.epp.bench.ScrapeCpuTest --endpoints 100 --interval-ms 50
 * --seconds 20}.
 */
public final class ScrapeCpuTest {

  private ScrapeCpuTest() {}

  /** Runs the test (or, with {@code --serve N}, the servers of the child process); see the class comment. */
  public static void main(String[] args) throws Exception {
    int endpoints = 100;
    int intervalMs = 50;
    int seconds = 20;
    int warmupSeconds = 20;
    int threads = 2;
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
        ports.add(Integer.parseInt(lines.readLine().trim()));
      }
      run(ports, intervalMs, threads, warmupSeconds, seconds, server.toHandle());
    } finally {
      server.destroy();
      server.waitFor();
    }
  }

  private static void run(List<Integer> ports, int intervalMs, int threads, int warmupSeconds, int seconds,
      ProcessHandle server)
      throws InterruptedException {
    EndpointPool pool = new EndpointPool();
    for (int i = 0; i < ports.size(); i++) {
      pool.upsert(Endpoint.of("pod-" + i + "-rank-0", "127.0.0.1", ports.get(i)));
    }
    CountingStore store = new CountingStore(pool);
    com.sun.management.OperatingSystemMXBean os =
        (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    try (MetricsScraper scraper = MetricsScraper.builder(store).interval(java.time.Duration.ofMillis(intervalMs))
        .threads(threads).build()) {
      scraper.start();
      Thread.sleep(warmupSeconds * 1000L);
      java.lang.management.ThreadMXBean threadBean = ManagementFactory.getThreadMXBean();
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
      double nominal = ports.size() * 1000.0 / intervalMs;
      System.out.printf("endpoints %d, interval %d ms, %d s measured after %d s warm-up%n", ports.size(), intervalMs,
          seconds, warmupSeconds);
      System.out.printf("scraper: %.3f cores (%.1f µs CPU per page), %.0f pages/s of %.0f nominal%n",
          (double) cpu / wall, updates == 0 ? 0 : cpu / 1000.0 / updates, updates * 1e9 / wall, nominal);
      System.out.printf("threads started by the scraper process: %.1f/s%n", started * 1e9 / wall);
      System.out.printf("servers (separate process): %.3f cores%n", (double) serverCpu / wall);
    }
  }

  private static long cpuNanos(ProcessHandle process) {
    return process.info().totalCpuDuration().map(java.time.Duration::toNanos).orElse(0L);
  }

  /** The child process: {@code n} HTTP servers on loopback serving the vLLM page; prints one port per line. */
  private static void serve(int n) throws Exception {
    byte[] page;
    try (InputStream in = ScrapeCpuTest.class.getResourceAsStream("vllm-metrics.txt")) {
      page = in.readAllBytes();
    }
    ExecutorService executor = Executors.newFixedThreadPool(4);
    InetAddress loopback = InetAddress.getLoopbackAddress();
    for (int i = 0; i < n; i++) {
      HttpServer server = HttpServer.create(new InetSocketAddress(loopback, 0), 64);
      server.createContext("/metrics", exchange -> {
        exchange.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4");
        exchange.sendResponseHeaders(200, page.length);
        exchange.getResponseBody().write(page);
        exchange.close();
      });
      server.setExecutor(executor);
      server.start();
      System.out.println(server.getAddress().getPort());
    }
    System.out.flush();
    Thread.currentThread().join(); // until the parent destroys this process
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
