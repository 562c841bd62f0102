package dev.epp.examples;

import dev.epp.examples.gateway.Gateway;
import java.time.Duration;

/** The flags {@code --upstream-connect-timeout} and {@code --upstream-response-timeout} of a gateway's commands. */
final class UpstreamTimeouts {

  private final Cli.Flag<Duration> connect;
  private final Cli.Flag<Duration> response;

  /** Defines the two flags in {@code flags}. */
  UpstreamTimeouts(Cli flags) {
    connect = flags.duration("upstream-connect-timeout", Gateway.DEFAULT_CONNECT_TIMEOUT.toSeconds() + "s",
        "time for a model server to accept a connection before the next endpoint is tried (504 when none is left)");
    response = flags.duration("upstream-response-timeout", Gateway.DEFAULT_RESPONSE_TIMEOUT.toSeconds() + "s",
        "time a model server may stay silent: before its response headers (504) or in its body (the connection is "
            + "dropped)");
  }

  /** Sets the parsed timeouts on {@code builder}. */
  Gateway.Builder apply(Gateway.Builder builder) {
    return builder.connectTimeout(connect.get()).responseTimeout(response.get());
  }
}
