package dev.epp.examples;

import dev.epp.examples.gateway.Gateway;
import java.time.Duration;

/** The {@code --upstream-connect-timeout} and {@code --upstream-response-timeout} flags of the commands running a gateway. */
final class UpstreamTimeouts {

  private final Flags.Flag<Duration> connect;
  private final Flags.Flag<Duration> response;

  /** Defines the two flags in {@code flags}. */
  UpstreamTimeouts(Flags flags) {
    connect = flags.duration("upstream-connect-timeout", Gateway.DEFAULT_CONNECT_TIMEOUT.toSeconds() + "s",
        "how long to wait for a model server to accept a connection; the next endpoint is then tried, and 504 "
            + "answered when none is left");
    response = flags.duration("upstream-response-timeout", Gateway.DEFAULT_RESPONSE_TIMEOUT.toSeconds() + "s",
        "how long a model server may be silent: before its response headers (then 504) and while sending its body "
            + "(then the client's connection is dropped)");
  }

  /** Sets the parsed timeouts on {@code builder}. */
  Gateway.Builder apply(Gateway.Builder builder) {
    return builder.connectTimeout(connect.get()).responseTimeout(response.get());
  }
}
