package dev.epp.api;

import java.util.Map;
import java.util.Objects;

/**
 * The identity of one model-server endpoint: a pod's target port.
 *
 * @param name unique within a pool; Kubernetes discovery uses {@code <pod>-rank-<i>} ({@code i} = index of the target
 *     port), as the Go EPP does
 * @param address the IP address (or host name) the gateway connects to
 * @param port the model server's port, 1 to 65535
 * @param labels the pod's labels (e.g. {@code inference.networking.k8s.io/engine-type}); unmodifiable
 */
public record Endpoint(String name, String address, int port, Map<String, String> labels) {

  /** Validates and copies the components. */
  public Endpoint {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(address, "address");
    if (name.isBlank()) {
      throw new IllegalArgumentException("endpoint name must not be blank");
    }
    if (address.isBlank()) {
      throw new IllegalArgumentException("endpoint " + name + ": address must not be blank");
    }
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("endpoint " + name + ": port " + port + " is not in 1..65535");
    }
    labels = Map.copyOf(labels);
  }

  /** An endpoint without labels. */
  public static Endpoint of(String name, String address, int port) {
    return new Endpoint(name, address, port, Map.of());
  }

  /**
   * {@code address:port}, with an IPv6 address in brackets ({@code [::1]:8000}), as the gateway expects it in
   * {@code x-gateway-destination-endpoint}.
   */
  public String hostPort() {
    return address.indexOf(':') >= 0 ? "[" + address + "]:" + port : address + ":" + port;
  }
}
