package dev.epp.examples;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.InferenceException;
import dev.epp.scheduler.ConfigException;
import dev.epp.scheduler.Director;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.scheduler.EndpointPool;
import dev.epp.scheduler.Routing;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * A gateway that routes in-process: it loads an {@code EndpointPickerConfig}, keeps three simulated pods in an
 * {@link EndpointPool}, and asks a {@link Director} where each OpenAI request goes. Each routed request adds to its pod's
 * queue, and each pod drains one request per round, so the load the scorers see changes as requests are routed.
 */
final class EmbeddedGateway {

  private EmbeddedGateway() {}

  static int run(String[] args, PrintStream out, PrintStream err) {
    Cli flags = new Cli("java -jar epp-examples.jar embedded [flags]",
        "Routes OpenAI requests in-process through the library's Director over three simulated pods.");
    Cli.Flag<Path> configFileFlag = flags.path("config-file", "an EndpointPickerConfig; default: the default one");
    Cli.Flag<Integer> requestsFlag = flags.integer("requests", 12, 1, 1_000_000, "how many requests to route");
    try {
      if (!flags.parse(args)) {
        flags.printHelp(out);
        return 0;
      }
    } catch (Cli.UsageException e) {
      err.println("embedded: " + e.getMessage() + " (see --help)");
      return 2;
    }
    Path configFile = configFileFlag.get();
    int requests = requestsFlag.get();
    EndpointPickerConfig config;
    try {
      config = configFile == null ? EndpointPickerConfig.defaults() : EndpointPickerConfig.loader().load(configFile);
    } catch (ConfigException e) {
      err.println("invalid configuration: " + e.getMessage());
      return 1;
    }
    try {
      return route(config, requests, out);
    } finally {
      config.close();
    }
  }

  private static int route(EndpointPickerConfig config, int requests, PrintStream out) {
    EndpointPool pool = new EndpointPool();
    Director director = Director.builder(config, pool).build();
    Map<String, Integer> queues = new HashMap<>();
    for (int i = 0; i < 3; i++) {
      Endpoint pod = Endpoint.of("vllm-" + i + "-rank-0", "127.0.0." + (i + 1), 8000);
      pool.upsert(pod);
      queues.put(pod.name(), i * 2);
    }
    for (int r = 0; r < requests; r++) {
      publish(pool, queues);
      String requestId = "req-" + r;
      byte[] body = ("{\"model\":\"meta-llama/Llama-3.1-8B-Instruct\",\"prompt\":\"Request " + r
          + ": explain prefix caching.\",\"max_tokens\":16}").getBytes(StandardCharsets.UTF_8);
      try {
        Routing routing = director.route(
            Map.of(":path", "/v1/completions", Director.REQUEST_ID_HEADER, requestId), body, null);
        Endpoint target = routing.targets().get(0);
        out.printf("%s -> %s (%s) queues before: %s%n", requestId, target.hostPort(), target.name(),
            new TreeMap<>(queues));
        queues.merge(target.name(), 1, Integer::sum);
        director.finish(routing);
      } catch (InferenceException e) {
        out.printf("%s rejected: %s - %s%n", requestId, e.code().wireName(), e.getMessage());
      }
      if (r % 2 == 1) {
        queues.replaceAll((name, q) -> Math.max(0, q - 1));
      }
    }
    return 0;
  }

  private static void publish(EndpointPool pool, Map<String, Integer> queues) {
    long now = System.nanoTime();
    queues.forEach((name, queue) -> pool.updateMetrics(name, EndpointMetrics.builder()
        .waitingQueueSize(queue)
        .kvCacheUsage(Math.min(1.0, queue / 10.0))
        .updatedNanos(now)
        .build()));
  }
}
