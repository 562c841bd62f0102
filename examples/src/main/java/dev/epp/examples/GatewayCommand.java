package dev.epp.examples;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointDiscovery;
import dev.epp.discovery.FileDiscovery;
import dev.epp.discovery.StaticDiscovery;
import dev.epp.examples.gateway.EndpointPicker;
import dev.epp.examples.gateway.Gateway;
import dev.epp.metrics.scrape.MetricsScraper;
import dev.epp.scheduler.ConfigException;
import dev.epp.scheduler.Director;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.scheduler.EndpointPool;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code gateway} command: a {@link Gateway} on {@code --port} routing through the EPP at {@code --epp} over
 * ext_proc, or with {@code --in-process} through a director over endpoints from {@code --endpoints} or a watched
 * {@code --endpoints-file}, their metrics scraped.
 *
 * <p>{@link #run} blocks until {@link #stop()} (called by the shutdown hook on SIGTERM or SIGINT), then closes the
 * gateway and returns 0; it returns 2 for a command line that cannot be used and 1 when the gateway cannot start,
 * after printing one line to the error stream.
 *
 * <p><b>Threading:</b> {@link #run} once, on any thread; {@link #stop()} from any thread.
 */
final class GatewayCommand extends LongRunningCommand<Gateway> {

  private static final String DESCRIPTION = """
      An HTTP gateway standing in for Envoy on one machine: routes /v1/* and /health through the Endpoint Picker,
      forwards to the endpoint it picks (falling back on connect failure) and relays responses, event streams
      included. It routes through the EPP at --epp (over ext_proc), or with --in-process through the scheduler
      library in this process, over the endpoints of --endpoints or --endpoints-file.""";

  /** How long the gateway waits for each answer of the EPP. */
  static final Duration EPP_MESSAGE_TIMEOUT = Duration.ofSeconds(10);

  private final PrintStream out;
  private final PrintStream err;
  private final Cli flags = new Cli("java -jar epp-examples.jar gateway [--port 8080] [--epp HOST:PORT] [--epp-tls]"
      + " | --in-process (--endpoints IP:PORT,... | --endpoints-file PATH) [--config-file PATH]", DESCRIPTION);
  private final Cli.Flag<Integer> port = flags.integer("port", Gateway.DEFAULT_PORT, 0, 65535, "listening port");
  private final Cli.Flag<Integer> maxBodyBytes = flags.integer("max-request-body-bytes",
      Gateway.DEFAULT_MAX_REQUEST_BODY_BYTES, 0, Integer.MAX_VALUE - 1, "larger request bodies get 413");
  private final UpstreamTimeouts upstreamTimeouts = new UpstreamTimeouts(flags);
  private final Cli.Flag<String> epp = flags.string("epp", "127.0.0.1:9002", "the EPP's ext_proc address");
  private final Cli.Flag<Boolean> eppTls = flags.bool("epp-tls", false,
      "connect to the EPP with TLS, not verifying its certificate");
  private final Cli.Flag<Boolean> inProcess = flags.bool("in-process", false,
      "route with the scheduler library in this process instead of an EPP");
  private final Cli.Flag<String> endpoints = flags.string("endpoints", "",
      "with --in-process: the model servers, ip:port,... ([ipv6]:port), each named by its ip:port");
  private final Cli.Flag<Path> endpointsFile = flags.path("endpoints-file",
      "with --in-process: file of endpoints, one '<name> <ip>:<port> [label=value ...]' per line, watched");
  private final Cli.Flag<Path> configFile = flags.path("config-file",
      "with --in-process: EndpointPickerConfig YAML file; without it the default configuration");
  private final Cli.Flag<Boolean> allowExperimental = flags.bool("allow-experimental-plugins", false,
      "allow plugin types of llm-d's Alpha stability level in the configuration");

  /**
   * @param out where {@code --help} and the start line go
   * @param err where command-line and start errors go, one line each
   */
  GatewayCommand(PrintStream out, PrintStream err) {
    this.out = out;
    this.err = err;
  }

  @Override
  int serve(String[] args) {
    List<Endpoint> endpointList;
    try {
      if (!flags.parse(args)) {
        flags.printHelp(out);
        return 0;
      }
      endpointList = endpoints.isSet() ? ServerCommand.parseEndpoints(endpoints.get()) : null;
      checkModes();
    } catch (Cli.UsageException e) {
      err.println("gateway: " + e.getMessage() + " (see --help)");
      return 2;
    }
    try {
      StartCheck.readableFile(endpointsFile);
      StartCheck.readableFile(configFile);
      StartCheck.portsFree(null, List.of(port));
    } catch (StartCheck.Failure e) {
      err.println("gateway: " + e.getMessage());
      return 1;
    }
    List<AutoCloseable> resources = new ArrayList<>();
    try {
      EndpointPicker picker = inProcess.get() ? inProcess(endpointList, resources)
          : EndpointPicker.extProc(epp.get(), eppTls.get(), EPP_MESSAGE_TIMEOUT);
      Gateway gateway = upstreamTimeouts.apply(Gateway.builder(picker))
          .address(new InetSocketAddress(port.get()))
          .maxRequestBodyBytes(maxBodyBytes.get())
          .start();
      resources.add(0, gateway);
      out.println("gateway listening on :" + gateway.port() + ", routing "
          + (inProcess.get() ? "in process" : "through the EPP at " + epp.get()));
      awaitStop(gateway);
    } catch (ConfigException e) {
      err.println("gateway: invalid configuration: " + e.getMessage().strip().replaceAll("\\s*\\R\\s*", " "));
      return 1;
    } catch (IOException | RuntimeException e) {
      err.println("gateway: cannot start: " + e.getMessage());
      return 1;
    } finally {
      for (AutoCloseable resource : resources) {
        try {
          resource.close();
        } catch (Exception e) {
          err.println("gateway: closing " + resource + ": " + e);
        }
      }
    }
    return 0;
  }

  /** Checks that the flags given belong to the mode chosen, ext_proc or {@code --in-process}. */
  private void checkModes() throws Cli.UsageException {
    if (inProcess.get()) {
      if (epp.isSet() || eppTls.isSet()) {
        throw new Cli.UsageException("--epp and --epp-tls do not apply with --in-process");
      }
      if (endpoints.isSet() == endpointsFile.isSet()) {
        throw new Cli.UsageException("--in-process needs one of --endpoints and --endpoints-file");
      }
    } else if (endpoints.isSet() || endpointsFile.isSet() || configFile.isSet()) {
      throw new Cli.UsageException("--endpoints, --endpoints-file and --config-file need --in-process");
    } else if (allowExperimental.isSet()) {
      throw new Cli.UsageException("--allow-experimental-plugins needs --in-process");
    }
  }

  /**
   * A director over discovered, scraped endpoints; the configuration (its plugins), discovery and scraper go into
   * {@code resources}.
   */
  private EndpointPicker inProcess(List<Endpoint> endpointList, List<AutoCloseable> resources) {
    EndpointPickerConfig config = configFile.isSet()
        ? EndpointPickerConfig.loader().allowExperimentalPlugins(allowExperimental.get()).load(configFile.get())
        : EndpointPickerConfig.defaults();
    resources.add(config::close);
    EndpointPool pool = new EndpointPool();
    Director director = Director.builder(config, pool).build();
    MetricsScraper scraper = MetricsScraper.builder(pool).build();
    resources.add(scraper);
    scraper.start();
    EndpointDiscovery discovery = endpointsFile.isSet()
        ? new FileDiscovery(endpointsFile.get())
        : new StaticDiscovery(endpointList);
    resources.add(discovery);
    discovery.start(pool);
    return EndpointPicker.inProcess(director);
  }
}
