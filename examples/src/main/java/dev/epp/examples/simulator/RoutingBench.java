package dev.epp.examples.simulator;

import dev.epp.api.Endpoint;
import dev.epp.examples.Cli;
import dev.epp.kvcache.PrecisePrefixCacheProducer;
import dev.epp.scheduler.Director;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.scheduler.EndpointPool;
import dev.epp.scheduler.PluginRegistry;
import dev.epp.scheduler.Routing;
import dev.epp.scheduler.plugins.prefix.ApproxPrefixCacheProducer;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import java.util.stream.Stream;

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
 *
 * <p>The precise prefix-cache rows get each engine's KV-cache events through {@link SimulatedKvEvents}, in virtual
 * time, and tokenize prompts with {@link SimulatorTokenizer}; a configuration may run behind several EPP replicas
 * ({@link Config#eppReplicas}), each a {@link Director} over the same pool and engines.
 *
 * <p>The {@code pd} workload compares aggregated serving with prefill/decode disaggregation over the same pods, on
 * engines whose decode stalls while they prefill ({@link EngineConfig#prefillStallsDecode}); a request the EPP gives a
 * prefill pod is served as llm-d's sidecar serves it: prefilled there, then decoded on its decode pod.
 */
public final class RoutingBench {

  static final String CSV_FILE = "routing-bench.csv";

  /**
   * A workload, the arrival rate it runs at unless {@code --rate} says otherwise, the configurations it compares and
   * the pods' engine.
   */
  record Scenario(String name, double defaultRate, Generator generator, List<Config> configs, EngineConfig engine) {

    /** Whether some configuration disaggregates prefill and decode, which gives the workload its own table. */
    boolean disaggregation() {
      return configs.stream().anyMatch(Config::disaggregated);
    }

    /** The chart file of this workload's results. */
    String chartFile() {
      return "routing-bench-" + name + ".png";
    }

    /** The chart files of this workload: TTFT, and with disaggregation time per output token too. */
    List<String> chartFiles() {
      return disaggregation() ? List.of(chartFile(), "routing-bench-" + name + "-tpot.png") : List.of(chartFile());
    }
  }

  /** Draws a workload: {@code requests} requests for {@code model} at {@code rate} per second from {@code seed}. */
  interface Generator {
    List<Workload.Item> generate(int requests, double rate, long seed, String model);
  }

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
   * llm-d's precise prefix-cache routing against the approximate one with the same scorers and weights (llm-d's
   * sample precise configuration), with one EPP replica and with two; see {@link #kvAware}.
   */
  static final List<Config> PRECISE_CONFIGS = List.of(
      new Config("approximate (same weights)", loader -> loader.parse(kvAware(Index.APPROXIMATE), "approximate"),
          false, 1),
      new Config("precise", loader -> loader.parse(kvAware(Index.PRECISE), "precise"), false, 1),
      new Config("precise (speculative)", loader -> loader.parse(kvAware(Index.SPECULATIVE), "precise (speculative)"),
          false, 1),
      new Config("approximate (2 EPPs)", loader -> loader.parse(kvAware(Index.APPROXIMATE), "approximate"), false, 2),
      new Config("shared approximate (2 EPPs)", loader -> loader.parse(kvAware(Index.APPROXIMATE),
          "approximate"), false, 2, true),
      new Config("precise (2 EPPs)", loader -> loader.parse(kvAware(Index.PRECISE), "precise"), false, 2));

  /**
   * Where {@link #kvAware}'s prefix match comes from: {@code approx-prefix-cache-producer} (defaults), or
   * {@code precise-prefix-cache-producer} without or with {@code speculativeIndexing} (TTL 2 s, its default).
   */
  enum Index { APPROXIMATE, PRECISE, SPECULATIVE }

  /** {@link #CONFIGS} then {@link #PRECISE_CONFIGS}. */
  static final List<Config> ALL_CONFIGS = Stream.concat(CONFIGS.stream(), PRECISE_CONFIGS.stream()).toList();

  /**
   * The {@code nonCachedTokens} threshold of the prefix-based P/D row: a decode pod prefills locally when fewer prompt
   * tokens than this are not in its cache (51 ms of prefill, five decode steps of stall for its running requests).
   */
  static final int NON_CACHED_TOKENS = 512;

  /** The configurations of the prefill/decode workload, in table order. */
  static final List<Config> PD_CONFIGS = List.of(
      new Config("aggregated default", EndpointPickerConfig.Loader::defaults),
      new Config("aggregated optimized", loader -> loader.parse(resource(OPTIMIZED_BASELINE), OPTIMIZED_BASELINE)),
      new Config("P/D always", loader -> loader.parse(disaggregated("always-disagg-pd-decider", ""),
          "P/D always"), true),
      new Config("P/D prefix-based (" + NON_CACHED_TOKENS + ")", loader -> loader.parse(disaggregated(
          "prefix-based-pd-decider", "\n  parameters:\n    nonCachedTokens: " + NON_CACHED_TOKENS), "P/D prefix-based"),
          true));

  /** KV blocks per pod in {@code multi-turn-evict}. */
  static final int EVICT_KV_BLOCKS = 192;

  /** The arrival rate of {@code multi-turn-evict}. */
  static final double EVICT_RATE = 60;

  /** The workloads, in run order. */
  static final List<Scenario> WORKLOADS = List.of(
      new Scenario("shared-prefix", 255, Workload::generate, ALL_CONFIGS, EngineConfig.defaults()),
      new Scenario("multi-turn", 200, MultiTurnWorkload::generate, ALL_CONFIGS, EngineConfig.defaults()),
      new Scenario("multi-turn-evict", EVICT_RATE, MultiTurnWorkload::generate, PRECISE_CONFIGS,
          EngineConfig.defaults().withKvBlocks(EVICT_KV_BLOCKS)),
      new Scenario("pd", 35, PdWorkload::generate, PD_CONFIGS, EngineConfig.defaults().withPrefillStallingDecode()));

  /**
   * A named scheduler configuration.
   *
   * @param load builds it with a loader that carries the run's ticker and seeded random source
   * @param disaggregated whether the first half of the pods (rounded down) prefill and the others decode; otherwise
   *     every pod does both
   * @param eppReplicas EPP replicas, each a {@link Director} with its own instance of the configuration over the same
   *     pool; requests alternate between them
   * @param sharedIndex whether each replica's {@code approx-prefix-cache-producer} applies the others' index inserts
   *     {@link #SHARE_DELAY} later, as {@code redis-prefix-index-sync} shares them through a Redis stream
   */
  record Config(String name, Function<EndpointPickerConfig.Loader, EndpointPickerConfig> load, boolean disaggregated,
      int eppReplicas, boolean sharedIndex) {

    /** How long a shared index insert takes to reach the other replicas. */
    static final Duration SHARE_DELAY = Duration.ofMillis(1);

    /** A configuration whose replicas keep their own index. */
    Config(String name, Function<EndpointPickerConfig.Loader, EndpointPickerConfig> load, boolean disaggregated,
        int eppReplicas) {
      this(name, load, disaggregated, eppReplicas, false);
    }

    /** A configuration of pods that prefill and decode, behind one EPP. */
    Config(String name, Function<EndpointPickerConfig.Loader, EndpointPickerConfig> load) {
      this(name, load, false, 1);
    }

    /** A configuration behind one EPP. */
    Config(String name, Function<EndpointPickerConfig.Loader, EndpointPickerConfig> load, boolean disaggregated) {
      this(name, load, disaggregated, 1);
    }

    /** The role of pod {@code index} of {@code pods}. */
    Role role(int index, int pods) {
      return !disaggregated ? Role.BOTH : index < pods / 2 ? Role.PREFILL : Role.DECODE;
    }
  }

  /**
   * The benchmark's options.
   *
   * @param pods simulated pods, each with its workload's {@link Scenario#engine}
   * @param requests requests replayed per configuration and workload
   * @param rate mean arrival rate, requests per second; 0 for each workload's {@link Scenario#defaultRate}
   * @param seed seeds the workload and the pickers
   * @param workloads the workloads to run
   * @param refreshMetricsInterval how often pod metrics reach the EPP, as its scraper would deliver them
   * @param kvBlocks KV-cache blocks per pod; 0 for each workload's {@link Scenario#engine}'s
   */
  record Options(int pods, int requests, double rate, long seed, List<Scenario> workloads,
      Duration refreshMetricsInterval, int kvBlocks) {
    static final Options DEFAULTS = new Options(8, 3000, 0, 42, WORKLOADS, Duration.ofMillis(50));

    /** Options with each workload's own KV-cache size. */
    Options(int pods, int requests, double rate, long seed, List<Scenario> workloads,
        Duration refreshMetricsInterval) {
      this(pods, requests, rate, seed, workloads, refreshMetricsInterval, 0);
    }

    /** The arrival rate for {@code workload}. */
    double rate(Scenario workload) {
      return rate > 0 ? rate : workload.defaultRate();
    }

    /** The pods' engine for {@code workload}. */
    EngineConfig engine(Scenario workload) {
      return kvBlocks > 0 ? workload.engine().withKvBlocks(kvBlocks) : workload.engine();
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
   * @param hitRate prompt tokens served from the prefix cache / prompt tokens; for a request prefilled on another pod,
   *     that pod's cache (as llm-d's sidecar reports {@code cached_tokens})
   * @param maxQueue the longest waiting queue any pod had
   * @param tpotP50Ms median time per output token after the first, {@code (e2e − TTFT) / (output tokens − 1)}
   * @param tpotP90Ms 90th percentile
   * @param disaggregated requests prefilled on a prefill pod
   * @param pods what each pod did, in pod order; empty when read back from the CSV
   */
  record Row(String workload, String config, int requests, double ttftP50Ms, double ttftP90Ms, double ttftP99Ms,
      double throughput, double hitRate, int maxQueue, double tpotP50Ms, double tpotP90Ms, int disaggregated,
      List<PodWork> pods) {}

  /**
   * What one pod did in a run, from its engine's counters.
   *
   * @param role its role
   * @param requests requests completed, prefills for another pod included
   * @param promptTokensComputed prompt tokens prefilled here
   * @param generationTokens tokens generated (one per prefill for another pod)
   */
  record PodWork(Role role, long requests, long promptTokensComputed, long generationTokens) {}

  private RoutingBench() {}

  /** The command's lines in the command list. */
  public static void usage(PrintStream out) {
    out.println("  routing-bench [--workload W] [--pods N] [--requests N] [--rate R] [--seed N] [--out DIR] ...");
    out.println("      replay a shared-prefix workload, a bursty multi-turn chat workload and a prefill-heavy workload over");
    out.println("      simulated pods with several scheduler configurations (aggregated or prefill/decode disaggregated,");
    out.println("      approximate or precise prefix-cache routing, one or two EPP replicas) and compare time to first");
    out.println("      token, time per output token and prefix-cache hit rate");
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
        Replays a shared-prefix chat workload, a bursty multi-turn chat workload (also on small KV caches:
        multi-turn-evict) and a prefill-heavy workload (pd) over simulated pods with several scheduler
        configurations, precise prefix-cache routing from the pods' KV events among them, with one EPP replica or
        two, and compares time to first token, throughput and prefix-cache hit rate; pd compares aggregated with
        prefill/decode disaggregated serving (half the pods prefill, half decode), with time per output token, and
        its pods' decode stalls while they prefill.""");
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
    Cli.Flag<Integer> kvBlocks = flags.integer("kv-blocks", 0, 0, Integer.MAX_VALUE, "KV-cache blocks of 16 tokens "
        + "per pod; 0 for each workload's own: " + EngineConfig.defaults().kvBlocks() + ", " + EVICT_KV_BLOCKS
        + " for multi-turn-evict");
    Cli.Flag<Duration> refresh = flags.duration("refresh-metrics-interval", "50ms",
        "how often pod metrics reach the EPP (its scrape interval), in virtual time");
    Cli.Flag<String> outDir = flags.string("out", ".",
        "directory for the results, " + CSV_FILE + " and a TTFT chart per workload (routing-bench-<workload>.png, "
            + "and routing-bench-pd-tpot.png for time per output token); created if missing");
    Options options;
    Path dir;
    try {
      if (!flags.parse(args)) {
        flags.printHelp(out);
        return 0;
      }
      List<Scenario> selected = WORKLOADS.stream()
          .filter(w -> workload.get().equals("all") || w.name().equals(workload.get())).toList();
      if (pods.get() < 2 && selected.stream().anyMatch(Scenario::disaggregation)) {
        err.println("routing-bench: --pods must be at least 2 for the pd workload (a prefill and a decode pod)");
        return 2;
      }
      options = new Options(pods.get(), requests.get(), rate.get(), seed.get(), selected, refresh.get(),
          kvBlocks.get());
      dir = Path.of(outDir.get());
    } catch (Cli.UsageException | InvalidPathException e) {
      err.println("routing-bench: " + e.getMessage());
      return 2;
    }
    List<Row> rows = new ArrayList<>();
    for (Scenario scenario : options.workloads()) {
      int blocks = options.engine(scenario).kvBlocks();
      out.printf(Locale.ROOT, "%s: %d pods%s, %d requests at %s/s, seed %d%n%n", scenario.name(), options.pods(),
          blocks == EngineConfig.defaults().kvBlocks() ? "" : " of " + blocks + " KV blocks", options.requests(),
          number(options.rate(scenario)), options.seed());
      List<Row> workloadRows;
      try {
        workloadRows = bench(scenario, options);
      } catch (IllegalArgumentException e) {
        if (options.kvBlocks() == 0) {
          throw e;
        }
        err.println("routing-bench: " + scenario.name() + ": " + e.getMessage() + " Raise --kv-blocks.");
        return 2;
      }
      out.print(table(scenario, workloadRows));
      out.println();
      rows.addAll(workloadRows);
    }
    try {
      Files.createDirectories(dir);
      Files.writeString(dir.resolve(CSV_FILE), csv(rows), StandardCharsets.UTF_8);
      for (Scenario scenario : options.workloads()) {
        List<Row> workloadRows = rows.stream().filter(r -> r.workload().equals(scenario.name())).toList();
        TtftChart.write(scenario.name(), workloadRows, dir.resolve(scenario.chartFile()));
        if (scenario.disaggregation()) {
          TtftChart.writeTpot(scenario.name(), workloadRows, dir.resolve(scenario.chartFiles().get(1)));
        }
      }
    } catch (IOException e) {
      err.println("routing-bench: cannot write results: " + e.getMessage());
      return 1;
    }
    out.println("wrote " + dir.resolve(CSV_FILE) + " and " + String.join(", ",
        options.workloads().stream().flatMap(w -> w.chartFiles().stream()).map(f -> dir.resolve(f).toString())
            .toList()));
    return 0;
  }

  /** Runs every configuration of {@code scenario} over the same requests. */
  static List<Row> bench(Scenario scenario, Options options) {
    List<Workload.Item> workload = scenario.generator().generate(options.requests(), options.rate(scenario),
        options.seed(), EngineConfig.DEFAULT_MODEL);
    List<Row> rows = new ArrayList<>();
    for (Config config : scenario.configs()) {
      rows.add(run(scenario, config, workload, options));
    }
    return rows;
  }

  /**
   * Runs one configuration. A request whose routing names a prefill pod in {@value SimulatorServer#PREFILLER_HEADER}
   * is handled as llm-d's sidecar does: prefilled there with {@code max_tokens} 1, then submitted to its decode pod,
   * which pulls the prompt's KV; its time to first token is from arrival to the decode pod's first token.
   */
  private static Row run(Scenario scenario, Config config, List<Workload.Item> workload, Options options) {
    VirtualClock clock = new VirtualClock();
    EndpointPool pool = new EndpointPool();
    SimulatedKvEvents kvEvents = new SimulatedKvEvents(clock, scenario.engine().model());
    Map<String, SimulatedEngine> engines = new LinkedHashMap<>();
    Map<String, SimulatedEngine> byHostPort = new HashMap<>();
    List<Role> roles = new ArrayList<>();
    for (int i = 0; i < options.pods(); i++) {
      Role role = config.role(i, options.pods());
      Endpoint pod = new Endpoint("sim-" + i + "-rank-0", "10.0." + i / 250 + "." + (i % 250 + 1), 8000,
          Map.of(Role.LABEL, role.labelValue()));
      pool.upsert(pod);
      SimulatedEngine engine = new SimulatedEngine(options.engine(scenario), clock, kvEvents.listener(pod.name()));
      engines.put(pod.name(), engine);
      byHostPort.put(pod.hostPort(), engine);
      roles.add(role);
    }
    PluginRegistry registry = registry(kvEvents);
    VirtualScheduler scheduler = new VirtualScheduler(clock);
    List<Director> directors = new ArrayList<>();
    List<ApproxPrefixCacheProducer> producers = new ArrayList<>();
    for (int replica = 0; replica < config.eppReplicas(); replica++) {
      EndpointPickerConfig schedulerConfig = config.load().apply(EndpointPickerConfig.loader().registry(registry)
          .ticker(clock::nanos).scheduler(scheduler).random(new Random(options.seed() + replica)));
      directors.add(Director.builder(schedulerConfig, pool).ticker(clock::nanos).build());
      if (config.sharedIndex()) {
        producers.add((ApproxPrefixCacheProducer) schedulerConfig.plugin(ApproxPrefixCacheProducer.TYPE)
            .orElseThrow());
      }
    }
    shareInserts(clock, producers);
    Results results = new Results(workload.size());
    publish(clock, pool, engines, results, options.refreshMetricsInterval());
    for (int i = 0; i < workload.size(); i++) {
      Workload.Item item = workload.get(i);
      Director director = directors.get(i % directors.size());
      clock.schedule(item.arrivalNanos(), () -> {
        Routing routing = director.route(Map.of(":path", item.path(), "x-request-id", item.id(),
            "content-type", "application/json"), item.body(), null);
        OpenAiRequest request = OpenAiRequest.parse(item.chat(), item.body());
        SimulatedEngine decode = engines.get(routing.targets().get(0).name());
        String prefiller = routing.upstreamHeaders().get(SimulatorServer.PREFILLER_HEADER);
        if (prefiller == null) {
          decode.submit(
              new SimulatedEngine.Request(request.model(), request.prompt(), item.reply(), false, "length", false),
              completion -> {
                results.add(completion, completion.ttftNanos(), completion.cachedTokens(), false, clock.nanos());
                director.finish(routing);
              });
          return;
        }
        long arrival = clock.nanos();
        String firstToken = item.reply().substring(0, Math.min(SimulatedEngine.CHARS_PER_TOKEN, item.reply().length()));
        byHostPort.get(prefiller).submit(
            new SimulatedEngine.Request(request.model(), request.prompt(), firstToken, false, "length", false),
            prefilled -> {
              long submitted = clock.nanos();
              decode.submit(
                  new SimulatedEngine.Request(request.model(), request.prompt(), item.reply(), false, "length", true),
                  completion -> {
                    results.add(completion, submitted - arrival + completion.ttftNanos(), prefilled.cachedTokens(),
                        true, clock.nanos());
                    director.finish(routing);
                  });
            });
      });
    }
    clock.run();
    int maxQueue = engines.values().stream().mapToInt(SimulatedEngine::maxWaiting).max().orElse(0);
    List<PodWork> pods = new ArrayList<>();
    int i = 0;
    for (SimulatedEngine engine : engines.values()) {
      pods.add(new PodWork(roles.get(i++), engine.successes().values().stream().mapToLong(Long::longValue).sum(),
          engine.promptTokensComputed(), engine.generationTokensTotal()));
    }
    return results.row(scenario.name(), config.name(), workload.get(0).arrivalNanos(), maxQueue, pods);
  }

  /**
   * Makes each producer's index inserts reach every other producer {@link Config#SHARE_DELAY} later: an in-process
   * stand-in for the Redis stream of {@code redis-prefix-index-sync}.
   */
  private static void shareInserts(VirtualClock clock, List<ApproxPrefixCacheProducer> producers) {
    for (ApproxPrefixCacheProducer producer : producers) {
      producer.addInsertListener((endpoint, capacity, hashes) -> {
        long[] copy = hashes.clone();
        for (ApproxPrefixCacheProducer other : producers) {
          if (other != producer) {
            clock.schedule(Config.SHARE_DELAY.toNanos(), () -> other.applyRemoteInsert(endpoint, capacity, copy));
          }
        }
      });
    }
  }

  /**
   * The default plugin registry plus {@value SimulatorTokenizer#TYPE}, with {@code precise-prefix-cache-producer}
   * subscribing to {@code kvEvents} rather than over ZeroMQ.
   */
  static PluginRegistry registry(SimulatedKvEvents kvEvents) {
    PluginRegistry defaults = PluginRegistry.defaultRegistry();
    PluginRegistry registry = new PluginRegistry();
    for (String type : defaults.types()) {
      if (!type.equals(PrecisePrefixCacheProducer.TYPE)) {
        registry.register(defaults.factory(type).orElseThrow());
      }
    }
    registry.register(new PrecisePrefixCacheProducer.Factory(kvEvents::subscriptions));
    registry.register(new SimulatorTokenizer.Factory());
    return registry;
  }

  /** Publishes every engine's metrics now and every {@code interval} until all requests completed. */
  private static void publish(VirtualClock clock, EndpointPool pool, Map<String, SimulatedEngine> engines,
      Results results, Duration interval) {
    engines.forEach((name, engine) -> pool.updateMetrics(name, engine.endpointMetrics(clock.nanos())));
    if (!results.done()) {
      clock.schedule(interval.toNanos(), () -> publish(clock, pool, engines, results, interval));
    }
  }

  /** The table printed to the console for {@code scenario}. */
  static String table(Scenario scenario, List<Row> rows) {
    return scenario.disaggregation() ? disaggregationTable(rows) : table(rows);
  }

  /** The table of a workload without disaggregation. */
  private static String table(List<Row> rows) {
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

  /** The table of a workload with disaggregation: time per output token and disaggregated requests too. */
  private static String disaggregationTable(List<Row> rows) {
    StringBuilder table = new StringBuilder(String.format(Locale.ROOT,
        "%-24s %8s %9s %9s %9s %9s %9s %11s %9s %9s %9s%n", "config", "requests", "TTFT p50", "TTFT p90", "TTFT p99",
        "TPOT p50", "TPOT p90", "throughput", "cache hit", "prefilled", "max queue"));
    table.append(String.format(Locale.ROOT, "%-24s %8s %9s %9s %9s %9s %9s %11s %9s %9s %9s%n", "", "", "ms", "ms", "ms",
        "ms", "ms", "req/s", "rate", "remotely", "per pod"));
    for (Row row : rows) {
      table.append(String.format(Locale.ROOT, "%-24s %8d %9.0f %9.0f %9.0f %9.1f %9.1f %11.1f %8.1f%% %9d %9d%n",
          row.config(), row.requests(), row.ttftP50Ms(), row.ttftP90Ms(), row.ttftP99Ms(), row.tpotP50Ms(),
          row.tpotP90Ms(), row.throughput(), row.hitRate() * 100, row.disaggregated(), row.maxQueue()));
    }
    return table.toString();
  }

  /** The rows as CSV with a header line. */
  static String csv(List<Row> rows) {
    StringBuilder csv = new StringBuilder("workload,config,requests,ttft_p50_ms,ttft_p90_ms,ttft_p99_ms,throughput_rps,"
        + "prefix_cache_hit_rate,max_pod_queue,tpot_p50_ms,tpot_p90_ms,prefilled_remotely\n");
    for (Row row : rows) {
      csv.append(String.format(Locale.ROOT, "%s,%s,%d,%.1f,%.1f,%.1f,%.2f,%.4f,%d,%.2f,%.2f,%d%n", row.workload(),
          row.config(), row.requests(), row.ttftP50Ms(), row.ttftP90Ms(), row.ttftP99Ms(), row.throughput(),
          row.hitRate(), row.maxQueue(), row.tpotP50Ms(), row.tpotP90Ms(), row.disaggregated()));
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

  /**
   * Prefill/decode disaggregation with the default configuration's scorers in both profiles, and the prefill decider
   * {@code decider} with the YAML {@code parameters} (empty, or starting with a new line).
   */
  private static String disaggregated(String decider, String parameters) {
    return """
        apiVersion: llm-d.ai/v1alpha1
        kind: EndpointPickerConfig
        plugins:
        - type: prefill-filter
        - type: decode-filter
        - type: prefix-cache-scorer
        - type: queue-scorer
        - type: kv-cache-utilization-scorer
        - type: %s%s
        - type: disagg-profile-handler
          parameters:
            deciders:
              prefill: %s
        schedulingProfiles:
        - name: decode
          plugins:
          - pluginRef: decode-filter
          - pluginRef: prefix-cache-scorer
            weight: 3
          - pluginRef: queue-scorer
            weight: 2
          - pluginRef: kv-cache-utilization-scorer
            weight: 2
        - name: prefill
          plugins:
          - pluginRef: prefill-filter
          - pluginRef: prefix-cache-scorer
            weight: 3
          - pluginRef: queue-scorer
            weight: 2
          - pluginRef: kv-cache-utilization-scorer
            weight: 2
        """.formatted(decider, parameters, decider);
  }

  /**
   * llm-d's sample precise prefix-cache configuration ({@code epp-precise-prefix-cache-config.yaml}:
   * {@code prefix-cache-scorer} 2, {@code kv-cache-utilization-scorer} 1, {@code queue-scorer} 1,
   * {@code max-score-picker}) with the prefix match from {@code index}. The precise producer's block size is the
   * engines' (16 tokens), as a deployment must set it: the index keys the blocks of each stored event by its tokens,
   * and an event of fewer tokens than a block indexes nothing. {@value SimulatorTokenizer#TYPE} stands in for
   * {@code token-producer}; the sample's data-layer plugins are left out (metrics are published into the pool
   * directly, and every pool listener hears pool changes).
   */
  static String kvAware(Index index) {
    boolean precise = index != Index.APPROXIMATE;
    String producer = precise ? """
        - type: simulator-tokenizer
        - type: precise-prefix-cache-producer
          parameters:
            speculativeIndexing: %s
            tokenProcessorConfig:
              blockSize: 16
        """.formatted(index == Index.SPECULATIVE) : "- type: approx-prefix-cache-producer\n";
    return """
        apiVersion: llm-d.ai/v1alpha1
        kind: EndpointPickerConfig
        plugins:
        %s- type: decode-filter
        - type: prefix-cache-scorer
          parameters:
            prefixMatchInfoProducerName: %s
        - type: kv-cache-utilization-scorer
        - type: queue-scorer
        - type: max-score-picker
        schedulingProfiles:
        - name: default
          plugins:
          - pluginRef: decode-filter
          - pluginRef: prefix-cache-scorer
            weight: 2.0
          - pluginRef: kv-cache-utilization-scorer
            weight: 1.0
          - pluginRef: queue-scorer
            weight: 1.0
          - pluginRef: max-score-picker
        """.formatted(producer, precise ? PrecisePrefixCacheProducer.TYPE : "approx-prefix-cache-producer");
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
    private final long[] tpots;
    private int completed;
    private int decoded;
    private int disaggregated;
    private long promptTokens;
    private long cachedTokens;
    private long lastCompletion;

    Results(int requests) {
      ttfts = new long[requests];
      tpots = new long[requests];
    }

    /**
     * Adds a request whose decode {@code completion} ended {@code now}, {@code ttftNanos} after its arrival, with
     * {@code cachedTokens} of its prompt from a prefix cache.
     */
    void add(SimulatedEngine.Completion completion, long ttftNanos, int cachedTokens, boolean disaggregated, long now) {
      ttfts[completed++] = ttftNanos;
      if (completion.outputTokens() > 1) {
        tpots[decoded++] = (completion.e2eNanos() - completion.ttftNanos()) / (completion.outputTokens() - 1);
      }
      this.disaggregated += disaggregated ? 1 : 0;
      promptTokens += completion.promptTokens();
      this.cachedTokens += cachedTokens;
      lastCompletion = now;
    }

    boolean done() {
      return completed == ttfts.length;
    }

    Row row(String workload, String config, long firstArrival, int maxQueue, List<PodWork> pods) {
      long[] sorted = Arrays.copyOf(ttfts, completed);
      Arrays.sort(sorted);
      long[] sortedTpots = Arrays.copyOf(tpots, decoded);
      Arrays.sort(sortedTpots);
      return new Row(workload, config, completed, percentile(sorted, 50), percentile(sorted, 90), percentile(sorted, 99),
          completed / ((lastCompletion - firstArrival) / 1e9), (double) cachedTokens / promptTokens, maxQueue,
          percentile(sortedTpots, 50), percentile(sortedTpots, 90), disaggregated, pods);
    }

    /** Nearest-rank percentile, in milliseconds. */
    private static double percentile(long[] sorted, int p) {
      if (sorted.length == 0) {
        return 0;
      }
      int rank = (int) Math.ceil(p / 100.0 * sorted.length);
      return sorted[Math.max(0, rank - 1)] / 1e6;
    }
  }
}
