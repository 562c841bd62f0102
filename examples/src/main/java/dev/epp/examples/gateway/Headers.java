package dev.epp.examples.gateway;

import dev.epp.scheduler.Director;
import java.util.HashSet;
import java.util.Set;

/** Header names the gateway and the EPP agree on, and the ones a proxy must not forward. */
final class Headers {

  /** Request header and {@code envoy.lb} metadata key with the endpoints the EPP picked. */
  static final String DESTINATION = "x-gateway-destination-endpoint";
  /** Response header (and response-path {@code envoy.lb} metadata key) with the endpoint that served. */
  static final String DESTINATION_SERVED = "x-gateway-destination-endpoint-served";
  /** The metadata namespace of the destination. */
  static final String LB_NAMESPACE = "envoy.lb";

  /** Headers the EPP owns; a client's copy never reaches upstream. */
  static final Set<String> SYSTEM = system();

  /**
   * Hop-by-hop headers and those the HTTP client or server sets itself: never copied from one connection to the
   * other.
   */
  private static final Set<String> NOT_FORWARDED = Set.of(
      "connection", "content-length", "expect", "host", "keep-alive", "proxy-connection", "te", "trailer",
      "transfer-encoding", "upgrade");

  private Headers() {}

  private static Set<String> system() {
    Set<String> system = new HashSet<>(Director.CONTROL_HEADERS);
    system.addAll(Set.of("x-gateway-destination-endpoint-subset", DESTINATION, DESTINATION_SERVED));
    return Set.copyOf(system);
  }

  /** Whether a header may be copied between the client's and the upstream connection. */
  static boolean forwarded(String name) {
    return !name.startsWith(":") && !NOT_FORWARDED.contains(name);
  }
}
