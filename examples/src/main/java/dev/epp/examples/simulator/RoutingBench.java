package dev.epp.examples.simulator;

import dev.epp.api.Endpoint;
import dev.epp.examples.Cli;
import dev.epp.scheduler.Director;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.scheduler.EndpointPool;
import dev.epp.scheduler.Routing;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;

/**
 * The {@code routing-bench} command: replays one {@link Workload} through the real scheduler with several
 * configurations, each over a fresh pool of simulated pods, and compares time to first token, throughput and
 * prefix-cache hit rate.
 *
 * <p>Each configuration runs as a discrete-event simulation in virtual time ({@link VirtualClock}), so a run takes
 * seconds and is exactly reproducible from its seed: the workload, the pickers' random choices (a seeded
 * {@link EndpointPickerConfig.Loader#random}) and the engines are all deterministic. The EPP sees the pods as in
 * production, minus HTTP: every {@value #SCRAPE_MILLIS} ms of virtual time each engine's state is published into the
 * {@link EndpointPool} as the scraper would publish its {@code /metrics}, so scorers see slightly stale load; each
 * arriving request is routed by a {@link Director} from its real OpenAI body (so the {@code openai-parser} and the
 * prefix producer run as in production), served by the chosen pod's {@link SimulatedEngine}, and
 * {@link Director#finish finished} when its last token is out.
 */
public final class RoutingBench {

  static final long SCRAPE_MILLIS = 50;
  static final String CSV_FILE = "routing-bench.csv";
  static final String PNG_FILE = "routing-bench.png";

  /** The configurations compared, in table order. */
  static final List<Config> CONFIGS = List.of(
      new Config("random-picker", loader -> loader.parse(plugins("random-picker"), "random-picker")),
      new Config("queue", loader -> loader.parse(plugins("queue-scorer"), "queue")),
      new Config("queue+kv", loader -> loader.parse(plugins("queue-scorer", "kv-cache-utilization-scorer"),
          "queue+kv")),
      new Config("default (queue+kv+prefix)", EndpointPickerConfig.Loader::defaults));

  /**
   * A named scheduler configuration.
   *
   * @param load builds it with a loader that carries the run's ticker and seeded random source
   */
  record Config(String name, Function<EndpointPickerConfig.Loader, EndpointPickerConfig> load) {}

  /**
   * The benchmark's options.
   *
   * @param pods simulated pods, each with {@link EngineConfig#defaults()}
   * @param requests requests replayed per configuration
   * @param rate mean arrival rate, requests per second
   * @param seed seeds the workload and the pickers
   */
  record Options(int pods, int requests, double rate, long seed) {
    static final Options DEFAULTS = new Options(8, 3000, 255, 42);
  }

  /**
   * One configuration's results.
   *
   * @param config the configuration's name
   * @param requests completed requests
   * @param ttftP50Ms median time to first token
   * @param ttftP90Ms 90th percentile
   * @param ttftP99Ms 99th percentile
   * @param throughput completed requests per second, from the first arrival to the last completion
   * @param hitRate prompt tokens served from the prefix cache / prompt tokens
   * @param maxQueue the longest waiting queue any pod had
   */
  record Row(String config, int requests, double ttftP50Ms, double ttftP90Ms, double ttftP99Ms, double throughput,
      double hitRate, int maxQueue) {}

  private RoutingBench() {}

  /** The command's lines in the command list. */
  public static void usage(PrintStream out) {
    out.println("  routing-bench [--pods N] [--requests N] [--rate R] [--seed N] [--out DIR]");
    out.println("      replay a shared-prefix chat workload over simulated pods with four scheduler configurations");
    out.println("      and compare time to first token and prefix-cache hit rate (routing-bench --help lists flags)");
  }

  /**
   * Runs the benchmark, prints the table, writes the CSV and the chart ({@value #CSV_FILE} and {@value #PNG_FILE} in
   * {@code --out}, created if missing).
   *
   * @return 0, 2 for invalid options, 1 if a file cannot be written
   */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    Options d = Options.DEFAULTS;
    Cli flags = new Cli("java -jar epp-examples.jar routing-bench [flags]", """
        Replays a shared-prefix chat workload over simulated pods with four scheduler configurations and compares
        time to first token, throughput and prefix-cache hit rate.""");
    Cli.Flag<Integer> pods = flags.integer("pods", d.pods(), 1, Integer.MAX_VALUE, "simulated pods");
    Cli.Flag<Integer> requests = flags.integer("requests", d.requests(), 1, Integer.MAX_VALUE,
        "requests replayed per configuration");
    Cli.Flag<Double> rate = flags.number("rate", d.rate(), true, "mean arrival rate, requests per second");
    Cli.Flag<Long> seed = flags.int64("seed", d.seed(), "seeds the workload and the pickers");
    Cli.Flag<String> outDir = flags.string("out", ".",
        "directory for the results, " + CSV_FILE + " and the TTFT chart " + PNG_FILE + "; created if missing");
    Options options;
    Path csv;
    Path png;
    try {
      if (!flags.parse(args)) {
        flags.printHelp(out);
        return 0;
      }
      options = new Options(pods.get(), requests.get(), rate.get(), seed.get());
      csv = Path.of(outDir.get(), CSV_FILE);
      png = Path.of(outDir.get(), PNG_FILE);
    } catch (Cli.UsageException | InvalidPathException e) {
      err.println("routing-bench: " + e.getMessage());
      return 2;
    }
    out.printf(Locale.ROOT, "%d pods, %d requests at %s/s, seed %d%n%n", options.pods(), options.requests(),
        number(options.rate()), options.seed());
    List<Row> rows = bench(options);
    out.print(table(rows));
    try {
      Files.createDirectories(csv.getParent());
      Files.writeString(csv, csv(rows), StandardCharsets.UTF_8);
      TtftChart.write(rows, png);
    } catch (IOException e) {
      err.println("routing-bench: cannot write results: " + e.getMessage());
      return 1;
    }
    out.println();
    out.println("wrote " + csv + " and " + png);
    return 0;
  }

  /** Runs every configuration of {@link #CONFIGS} over the same workload. */
  static List<Row> bench(Options options) {
    List<Workload.Item> workload =
        Workload.generate(options.requests(), options.rate(), options.seed(), EngineConfig.DEFAULT_MODEL);
    List<Row> rows = new ArrayList<>();
    for (Config config : CONFIGS) {
      rows.add(run(config, workload, options));
    }
    return rows;
  }

  private static Row run(Config config, List<Workload.Item> workload, Options options) {
    VirtualClock clock = new VirtualClock();
    EndpointPool pool = new EndpointPool();
    Map<String, SimulatedEngine> engines = new HashMap<>();
    for (int i = 0; i < options.pods(); i++) {
      Endpoint pod = Endpoint.of("sim-" + i + "-rank-0", "10.0." + i / 250 + "." + (i % 250 + 1), 8000);
      pool.upsert(pod);
      engines.put(pod.name(), new SimulatedEngine(EngineConfig.defaults(), clock));
    }
    EndpointPickerConfig schedulerConfig = config.load().apply(
        EndpointPickerConfig.loader().ticker(clock::nanos).random(new Random(options.seed())));
    Director director = Director.builder(schedulerConfig, pool).ticker(clock::nanos).build();
    Results results = new Results(workload.size());
    publish(clock, pool, engines, results);
    for (Workload.Item item : workload) {
      clock.schedule(item.arrivalNanos(), () -> {
        Routing routing = director.route(Map.of(":path", item.path(), "x-request-id", item.id(),
            "content-type", "application/json"), item.body(), null);
        OpenAiRequest request = OpenAiRequest.parse(item.chat(), item.body());
        engines.get(routing.targets().get(0).name()).submit(
            new SimulatedEngine.Request(request.model(), request.prompt(), item.reply(), false, "length"),
            completion -> {
              results.add(completion, clock.nanos());
              director.finish(routing);
            });
      });
    }
    clock.run();
    int maxQueue = engines.values().stream().mapToInt(SimulatedEngine::maxWaiting).max().orElse(0);
    return results.row(config.name(), workload.get(0).arrivalNanos(), maxQueue);
  }

  /** Publishes every engine's metrics now and every {@value #SCRAPE_MILLIS} ms until all requests completed. */
  private static void publish(VirtualClock clock, EndpointPool pool, Map<String, SimulatedEngine> engines,
      Results results) {
    engines.forEach((name, engine) -> pool.updateMetrics(name, engine.endpointMetrics(clock.nanos())));
    if (!results.done()) {
      clock.schedule(SCRAPE_MILLIS * 1_000_000, () -> publish(clock, pool, engines, results));
    }
  }

  /** The table printed to the console. */
  static String table(List<Row> rows) {
    StringBuilder table = new StringBuilder(String.format(Locale.ROOT, "%-27s %8s %9s %9s %9s %11s %9s %9s%n",
        "config", "requests", "TTFT p50", "TTFT p90", "TTFT p99", "throughput", "cache hit", "max queue"));
    table.append(String.format(Locale.ROOT, "%-27s %8s %9s %9s %9s %11s %9s %9s%n", "", "", "ms", "ms", "ms",
        "req/s", "rate", "per pod"));
    for (Row row : rows) {
      table.append(String.format(Locale.ROOT, "%-27s %8d %9.0f %9.0f %9.0f %11.1f %8.1f%% %9d%n", row.config(),
          row.requests(), row.ttftP50Ms(), row.ttftP90Ms(), row.ttftP99Ms(), row.throughput(), row.hitRate() * 100,
          row.maxQueue()));
    }
    return table.toString();
  }

  /** The rows as CSV with a header line. */
  static String csv(List<Row> rows) {
    StringBuilder csv = new StringBuilder(
        "config,requests,ttft_p50_ms,ttft_p90_ms,ttft_p99_ms,throughput_rps,prefix_cache_hit_rate,max_pod_queue\n");
    for (Row row : rows) {
      csv.append(String.format(Locale.ROOT, "%s,%d,%.1f,%.1f,%.1f,%.2f,%.4f,%d%n", row.config(), row.requests(),
          row.ttftP50Ms(), row.ttftP90Ms(), row.ttftP99Ms(), row.throughput(), row.hitRate(), row.maxQueue()));
    }
    return csv.toString();
  }

  private static String plugins(String... types) {
    StringBuilder yaml = new StringBuilder(
        "apiVersion: inference.networking.x-k8s.io/v1alpha1\nkind: EndpointPickerConfig\nplugins:\n");
    for (String type : types) {
      yaml.append("- type: ").append(type).append('\n');
    }
    return yaml.toString();
  }

  private static String number(double value) {
    return value == Math.rint(value) ? Long.toString((long) value) : Double.toString(value);
  }

  /** Completed requests of one configuration. */
  private static final class Results {
    private final long[] ttfts;
    private int completed;
    private long promptTokens;
    private long cachedTokens;
    private long lastCompletion;

    Results(int requests) {
      ttfts = new long[requests];
    }

    void add(SimulatedEngine.Completion completion, long now) {
      ttfts[completed++] = completion.ttftNanos();
      promptTokens += completion.promptTokens();
      cachedTokens += completion.cachedTokens();
      lastCompletion = now;
    }

    boolean done() {
      return completed == ttfts.length;
    }

    Row row(String config, long firstArrival, int maxQueue) {
      long[] sorted = Arrays.copyOf(ttfts, completed);
      Arrays.sort(sorted);
      return new Row(config, completed, percentile(sorted, 50), percentile(sorted, 90), percentile(sorted, 99),
          completed / ((lastCompletion - firstArrival) / 1e9), (double) cachedTokens / promptTokens, maxQueue);
    }

    /** Nearest-rank percentile, in milliseconds. */
    private static double percentile(long[] sorted, int p) {
      int rank = (int) Math.ceil(p / 100.0 * sorted.length);
      return sorted[Math.max(0, rank - 1)] / 1e6;
    }
  }
}
