package dev.epp.examples.simulator;

import dev.epp.api.Endpoint;
import dev.epp.examples.Cli;
import dev.epp.scheduler.Director;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.scheduler.EndpointPool;
import dev.epp.scheduler.Routing;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;

/**
 * The {@code routing-bench} command: replays each {@link Scenario workload} through the real scheduler with several
 * configurations, each over a fresh pool of simulated pods, and compares time to first token, throughput and
 * prefix-cache hit rate.
 *
 * <p>Each configuration runs as a discrete-event simulation in virtual time ({@link VirtualClock}), so a run takes
 * seconds and is exactly reproducible from its seed: the workload, the pickers' random choices (a seeded
 * {@link EndpointPickerConfig.Loader#random}) and the engines are all deterministic. The EPP sees the pods as in
 * production, minus HTTP: every {@code --refresh-metrics-interval} (50 ms, the EPP's default) of virtual time each
 * engine's state is published into the
 * {@link EndpointPool} as the scraper would publish its {@code /metrics}, so scorers see slightly stale load; each
 * arriving request is routed by a {@link Director} from its real OpenAI body (so the {@code openai-parser} and the
 * prefix producer run as in production), served by the chosen pod's {@link SimulatedEngine}, and
 * {@link Director#finish finished} when its last token is out (which is when in-flight load is released).
 */
public final class RoutingBench {

  static final String CSV_FILE = "routing-bench.csv";

  /** A workload and the arrival rate it runs at unless {@code --rate} says otherwise. */
  record Scenario(String name, double defaultRate, Generator generator) {

    /** The chart file of this workload's results. */
    String chartFile() {
      return "routing-bench-" + name + ".png";
    }
  }

  /** Draws a workload: {@code requests} requests for {@code model} at {@code rate} per second from {@code seed}. */
  interface Generator {
    List<Workload.Item> generate(int requests, double rate, long seed, String model);
  }

  /** The workloads, in run order. */
  static final List<Scenario> WORKLOADS = List.of(
      new Scenario("shared-prefix", 255, Workload::generate),
      new Scenario("multi-turn", 200, MultiTurnWorkload::generate));

  /**
   * llm-d's optimized baseline as {@code examples/configs} ships it: stick to the pods that hold the prompt's prefix
   * until they are saturated, then least in-flight token load.
   */
  static final String OPTIMIZED_BASELINE = "optimized-baseline.yaml";

  /** The configurations compared, in table order. */
  static final List<Config> CONFIGS = List.of(
      new Config("random-picker", loader -> loader.parse(plugins("random-picker"), "random-picker")),
      new Config("queue", loader -> loader.parse(plugins("queue-scorer"), "queue")),
      new Config("queue+kv", loader -> loader.parse(plugins("queue-scorer", "kv-cache-utilization-scorer"),
          "queue+kv")),
      new Config("default (queue+kv+prefix)", EndpointPickerConfig.Loader::defaults),
      new Config("prefix+active-request", loader -> loader.parse(prefixAnd("active-request-scorer"),
          "prefix+active-request")),
      new Config("prefix+load-aware", loader -> loader.parse(prefixAnd("load-aware-scorer"), "prefix+load-aware")),
      new Config("optimized baseline", loader -> loader.parse(resource(OPTIMIZED_BASELINE), OPTIMIZED_BASELINE)));

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
   * @param requests requests replayed per configuration and workload
   * @param rate mean arrival rate, requests per second; 0 for each workload's {@link Scenario#defaultRate}
   * @param seed seeds the workload and the pickers
   * @param workloads the workloads to run
   * @param refreshMetricsInterval how often pod metrics reach the EPP, as its scraper would deliver them
   */
  record Options(int pods, int requests, double rate, long seed, List<Scenario> workloads,
      Duration refreshMetricsInterval) {
    static final Options DEFAULTS = new Options(8, 3000, 0, 42, WORKLOADS, Duration.ofMillis(50));

    /** The arrival rate for {@code workload}. */
    double rate(Scenario workload) {
      return rate > 0 ? rate : workload.defaultRate();
    }
  }

  /**
   * One configuration's results on one workload.
   *
   * @param workload the workload's name
   * @param config the configuration's name
   * @param requests completed requests
   * @param ttftP50Ms median time to first token
   * @param ttftP90Ms 90th percentile
   * @param ttftP99Ms 99th percentile
   * @param throughput completed requests per second, from the first arrival to the last completion
   * @param hitRate prompt tokens served from the prefix cache / prompt tokens
   * @param maxQueue the longest waiting queue any pod had
   */
  record Row(String workload, String config, int requests, double ttftP50Ms, double ttftP90Ms, double ttftP99Ms,
      double throughput, double hitRate, int maxQueue) {}

  private RoutingBench() {}

  /** The command's lines in the command list. */
  public static void usage(PrintStream out) {
    out.println("  routing-bench [--workload W] [--pods N] [--requests N] [--rate R] [--seed N] [--out DIR] ...");
    out.println("      replay a shared-prefix workload and a bursty multi-turn chat workload over simulated pods with");
    out.println("      several scheduler configurations and compare time to first token and prefix-cache hit rate");
    out.println("      (routing-bench --help lists flags)");
  }

  /**
   * Runs the benchmark, prints a table per workload, writes the CSV ({@value #CSV_FILE}) and a chart per workload
   * ({@link Scenario#chartFile}) in {@code --out}, created if missing.
   *
   * @return 0, 2 for invalid options, 1 if a file cannot be written
   */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    Options d = Options.DEFAULTS;
    Cli flags = new Cli("java -jar epp-examples.jar routing-bench [flags]", """
        Replays a shared-prefix chat workload and a bursty multi-turn chat workload over simulated pods with several
        scheduler configurations and compares time to first token, throughput and prefix-cache hit rate.""");
    List<String> names = new ArrayList<>(WORKLOADS.stream().map(Scenario::name).toList());
    names.add("all");
    Cli.Flag<String> workload = flags.choice("workload", "all", names, "the workload to run, or all");
    Cli.Flag<Integer> pods = flags.integer("pods", d.pods(), 1, Integer.MAX_VALUE, "simulated pods");
    Cli.Flag<Integer> requests = flags.integer("requests", d.requests(), 1, Integer.MAX_VALUE,
        "requests replayed per configuration and workload");
    Cli.Flag<Double> rate = flags.number("rate", d.rate(), false, "mean arrival rate, requests per second; 0 for "
        + "each workload's own: " + String.join(", ",
            WORKLOADS.stream().map(w -> number(w.defaultRate()) + " for " + w.name()).toList()));
    Cli.Flag<Long> seed = flags.int64("seed", d.seed(), "seeds the workloads and the pickers");
    Cli.Flag<Duration> refresh = flags.duration("refresh-metrics-interval", "50ms",
        "how often pod metrics reach the EPP (its scrape interval), in virtual time");
    Cli.Flag<String> outDir = flags.string("out", ".",
        "directory for the results, " + CSV_FILE + " and a TTFT chart per workload (routing-bench-<workload>.png); "
            + "created if missing");
    Options options;
    Path dir;
    try {
      if (!flags.parse(args)) {
        flags.printHelp(out);
        return 0;
      }
      List<Scenario> selected = WORKLOADS.stream()
          .filter(w -> workload.get().equals("all") || w.name().equals(workload.get())).toList();
      options = new Options(pods.get(), requests.get(), rate.get(), seed.get(), selected, refresh.get());
      dir = Path.of(outDir.get());
    } catch (Cli.UsageException | InvalidPathException e) {
      err.println("routing-bench: " + e.getMessage());
      return 2;
    }
    List<Row> rows = new ArrayList<>();
    for (Scenario scenario : options.workloads()) {
      out.printf(Locale.ROOT, "%s: %d pods, %d requests at %s/s, seed %d%n%n", scenario.name(), options.pods(),
          options.requests(), number(options.rate(scenario)), options.seed());
      List<Row> workloadRows = bench(scenario, options);
      out.print(table(workloadRows));
      out.println();
      rows.addAll(workloadRows);
    }
    try {
      Files.createDirectories(dir);
      Files.writeString(dir.resolve(CSV_FILE), csv(rows), StandardCharsets.UTF_8);
      for (Scenario scenario : options.workloads()) {
        TtftChart.write(scenario.name(), rows.stream().filter(r -> r.workload().equals(scenario.name())).toList(),
            dir.resolve(scenario.chartFile()));
      }
    } catch (IOException e) {
      err.println("routing-bench: cannot write results: " + e.getMessage());
      return 1;
    }
    out.println("wrote " + dir.resolve(CSV_FILE) + " and " + String.join(", ",
        options.workloads().stream().map(w -> dir.resolve(w.chartFile()).toString()).toList()));
    return 0;
  }

  /** Runs every configuration of {@link #CONFIGS} over the same requests of {@code scenario}. */
  static List<Row> bench(Scenario scenario, Options options) {
    List<Workload.Item> workload = scenario.generator().generate(options.requests(), options.rate(scenario),
        options.seed(), EngineConfig.DEFAULT_MODEL);
    List<Row> rows = new ArrayList<>();
    for (Config config : CONFIGS) {
      rows.add(run(scenario.name(), config, workload, options));
    }
    return rows;
  }

  private static Row run(String workloadName, Config config, List<Workload.Item> workload, Options options) {
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
    publish(clock, pool, engines, results, options.refreshMetricsInterval());
    for (Workload.Item item : workload) {
      clock.schedule(item.arrivalNanos(), () -> {
        Routing routing = director.route(Map.of(":path", item.path(), "x-request-id", item.id(),
            "content-type", "application/json"), item.body(), null);
        OpenAiRequest request = OpenAiRequest.parse(item.chat(), item.body());
        engines.get(routing.targets().get(0).name()).submit(
            new SimulatedEngine.Request(request.model(), request.prompt(), item.reply(), false, "length", false),
            completion -> {
              results.add(completion, clock.nanos());
              director.finish(routing);
            });
      });
    }
    clock.run();
    int maxQueue = engines.values().stream().mapToInt(SimulatedEngine::maxWaiting).max().orElse(0);
    return results.row(workloadName, config.name(), workload.get(0).arrivalNanos(), maxQueue);
  }

  /** Publishes every engine's metrics now and every {@code interval} until all requests completed. */
  private static void publish(VirtualClock clock, EndpointPool pool, Map<String, SimulatedEngine> engines,
      Results results, Duration interval) {
    engines.forEach((name, engine) -> pool.updateMetrics(name, engine.endpointMetrics(clock.nanos())));
    if (!results.done()) {
      clock.schedule(interval.toNanos(), () -> publish(clock, pool, engines, results, interval));
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
        "workload,config,requests,ttft_p50_ms,ttft_p90_ms,ttft_p99_ms,throughput_rps,prefix_cache_hit_rate,max_pod_queue\n");
    for (Row row : rows) {
      csv.append(String.format(Locale.ROOT, "%s,%s,%d,%.1f,%.1f,%.1f,%.2f,%.4f,%d%n", row.workload(), row.config(),
          row.requests(), row.ttftP50Ms(), row.ttftP90Ms(), row.ttftP99Ms(), row.throughput(), row.hitRate(), row.maxQueue()));
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

  /** The default configuration with its queue and KV-cache scorers replaced by the in-flight load scorer {@code type}. */
  private static String prefixAnd(String type) {
    return """
        apiVersion: llm-d.ai/v1alpha1
        kind: EndpointPickerConfig
        plugins:
        - type: inflight-load-producer
        - type: prefix-cache-scorer
        - type: %s
        schedulingProfiles:
        - name: default
          plugins:
          - pluginRef: prefix-cache-scorer
            weight: 3
          - pluginRef: %s
            weight: 2
        """.formatted(type, type);
  }

  private static String resource(String name) {
    try (InputStream in = RoutingBench.class.getResourceAsStream(name)) {
      if (in == null) {
        throw new IllegalStateException("no resource " + name + " beside " + RoutingBench.class.getName());
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
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

    Row row(String workload, String config, long firstArrival, int maxQueue) {
      long[] sorted = Arrays.copyOf(ttfts, completed);
      Arrays.sort(sorted);
      return new Row(workload, config, completed, percentile(sorted, 50), percentile(sorted, 90), percentile(sorted, 99),
          completed / ((lastCompletion - firstArrival) / 1e9), (double) cachedTokens / promptTokens, maxQueue);
    }

    /** Nearest-rank percentile, in milliseconds. */
    private static double percentile(long[] sorted, int p) {
      int rank = (int) Math.ceil(p / 100.0 * sorted.length);
      return sorted[Math.max(0, rank - 1)] / 1e6;
    }
  }
}
