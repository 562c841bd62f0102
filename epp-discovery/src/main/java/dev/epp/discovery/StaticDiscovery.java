package dev.epp.discovery;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointDiscovery;
import dev.epp.api.EndpointStore;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Discovery of a fixed list of endpoints: {@link #start} upserts them and nothing changes afterwards.
 *
 * <p><b>Threading:</b> thread-safe.
 */
public final class StaticDiscovery implements EndpointDiscovery {

  private final List<Endpoint> endpoints;
  private final AtomicBoolean started = new AtomicBoolean();

  /**
   * @param endpoints the pool's endpoints
   * @throws IllegalArgumentException if two endpoints have the same name, or an address is not an IP literal
   *     ({@link IpPort#isIpLiteral})
   */
  public StaticDiscovery(List<Endpoint> endpoints) {
    this.endpoints = List.copyOf(endpoints);
    if (this.endpoints.stream().map(Endpoint::name).distinct().count() != this.endpoints.size()) {
      throw new IllegalArgumentException("endpoint names must be unique: " + endpoints);
    }
    for (Endpoint endpoint : this.endpoints) {
      if (!IpPort.isIpLiteral(endpoint.address())) {
        throw new IllegalArgumentException("endpoint " + endpoint.name() + ": " + IpPort.notAnIp(endpoint.address()));
      }
    }
  }

  @Override
  public void start(EndpointStore store) {
    if (!started.compareAndSet(false, true)) {
      throw new IllegalStateException("already started");
    }
    endpoints.forEach(store::upsert);
  }

  @Override
  public void close() {}
}
