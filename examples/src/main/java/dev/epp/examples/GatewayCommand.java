package dev.epp.examples;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointDiscovery;
import dev.epp.examples.gateway.EndpointPicker;
import dev.epp.examples.gateway.Gateway;
import dev.epp.metrics.FileDiscovery;
import dev.epp.metrics.MetricsScraper;
import dev.epp.metrics.StaticDiscovery;
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

  static final String USAGE = """
      usage: java -jar epp-examples.jar gateway [--port 8080] [--max-request-body-bytes N]
                 [--epp HOST:PORT] [--epp-tls]
                 | --in-process (--endpoints IP:PORT,... | --endpoints-file PATH) [--config-file PATH]

      An HTTP gateway standing in for Envoy on one machine: routes /v1/* and /health through the Endpoint
      Picker, forwards to the endpoint it picks (falling back on connect failure) and relays responses,
      event streams included.

        --port N                    listening port (default 8080)
        --max-request-body-bytes N  larger request bodies get 413 (default 16 MiB)
        --epp HOST:PORT             the EPP's ext_proc address (default 127.0.0.1:9002)
        --epp-tls                   connect to the EPP with TLS, not verifying its certificate
        --in-process                route with the scheduler library in this process instead of an EPP
        --endpoints IP:PORT,...     with --in-process: the model servers ([ipv6]:port), named by ip:port
        --endpoints-file PATH       with --in-process: '<name> <ip>:<port> [label=value ...]' per line, watched
        --config-file PATH          with --in-process: EndpointPickerConfig YAML (default configuration without)
      """;

  /** How long the gateway waits for each answer of the EPP. */
  static final Duration EPP_MESSAGE_TIMEOUT = Duration.ofSeconds(10);

  private final PrintStream out;
  private final PrintStream err;

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
    Options options;
    try {
      options = Options.parse(args);
    } catch (IllegalArgumentException e) {
      err.println("gateway: " + e.getMessage() + " (see --help)");
      return 2;
    }
    if (options.help) {
      out.print(USAGE);
      return 0;
    }
    List<AutoCloseable> resources = new ArrayList<>();
    try {
      EndpointPicker picker = options.inProcess ? inProcess(options, resources)
          : EndpointPicker.extProc(options.epp, options.eppTls, EPP_MESSAGE_TIMEOUT);
      Gateway gateway = Gateway.builder(picker)
          .address(new InetSocketAddress(options.port))
          .maxRequestBodyBytes(options.maxBodyBytes)
          .start();
      resources.add(0, gateway);
      out.println("gateway listening on :" + gateway.port() + ", routing "
          + (options.inProcess ? "in process" : "through the EPP at " + options.epp));
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

  /** A director over discovered, scraped endpoints; the discovery and scraper go into {@code resources}. */
  private static EndpointPicker inProcess(Options options, List<AutoCloseable> resources) {
    EndpointPickerConfig config = options.configFile == null
        ? EndpointPickerConfig.defaults()
        : EndpointPickerConfig.loader().load(options.configFile);
    EndpointPool pool = new EndpointPool();
    Director director = Director.builder(config, pool).build();
    MetricsScraper scraper = MetricsScraper.builder(pool).build();
    resources.add(scraper);
    scraper.start();
    EndpointDiscovery discovery = options.endpointsFile != null
        ? new FileDiscovery(options.endpointsFile)
        : new StaticDiscovery(options.endpoints);
    resources.add(discovery);
    discovery.start(pool);
    return EndpointPicker.inProcess(director);
  }

  /** The command line. */
  private static final class Options {
    boolean help;
    int port = Gateway.DEFAULT_PORT;
    int maxBodyBytes = Gateway.DEFAULT_MAX_REQUEST_BODY_BYTES;
    String epp;
    boolean eppTls;
    boolean inProcess;
    List<Endpoint> endpoints;
    Path endpointsFile;
    Path configFile;

    static Options parse(String[] args) {
      Options o = new Options();
      for (int i = 0; i < args.length; i++) {
        String arg = args[i];
        switch (arg) {
          case "--help", "-h" -> o.help = true;
          case "--port" -> o.port = integer(arg, value(args, ++i, arg), 0, 65535);
          case "--max-request-body-bytes" ->
              o.maxBodyBytes = integer(arg, value(args, ++i, arg), 0, Integer.MAX_VALUE - 1);
          case "--epp" -> o.epp = value(args, ++i, arg);
          case "--epp-tls" -> o.eppTls = true;
          case "--in-process" -> o.inProcess = true;
          case "--endpoints" -> o.endpoints = endpoints(value(args, ++i, arg));
          case "--endpoints-file" -> o.endpointsFile = Path.of(value(args, ++i, arg));
          case "--config-file" -> o.configFile = Path.of(value(args, ++i, arg));
          default -> throw new IllegalArgumentException("unknown option " + arg);
        }
      }
      if (o.inProcess) {
        if (o.epp != null || o.eppTls) {
          throw new IllegalArgumentException("--epp and --epp-tls do not apply with --in-process");
        }
        if ((o.endpoints == null) == (o.endpointsFile == null)) {
          throw new IllegalArgumentException("--in-process needs one of --endpoints and --endpoints-file");
        }
      } else {
        if (o.endpoints != null || o.endpointsFile != null || o.configFile != null) {
          throw new IllegalArgumentException("--endpoints, --endpoints-file and --config-file need --in-process");
        }
        if (o.epp == null) {
          o.epp = "127.0.0.1:9002";
        }
      }
      return o;
    }

    private static String value(String[] args, int i, String option) {
      if (i >= args.length) {
        throw new IllegalArgumentException(option + " needs a value");
      }
      return args[i];
    }

    private static int integer(String option, String value, int min, int max) {
      try {
        int n = Integer.parseInt(value);
        if (n >= min && n <= max) {
          return n;
        }
      } catch (NumberFormatException e) {
        // reported below
      }
      throw new IllegalArgumentException(option + " must be a number in " + min + ".." + max + ", got '" + value + "'");
    }

    /** {@code ip:port,...}, parsed as {@code server --endpoints} parses it. */
    private static List<Endpoint> endpoints(String list) {
      try {
        return ServerCommand.parseEndpoints(list);
      } catch (Flags.UsageException e) {
        throw new IllegalArgumentException(e.getMessage());
      }
    }
  }
}
