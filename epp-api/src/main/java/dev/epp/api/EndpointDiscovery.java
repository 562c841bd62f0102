package dev.epp.api;

/**
 * A source of pool membership: a static list, a watched file, or (later) Kubernetes. It adds endpoints to an
 * {@link EndpointStore} and removes them when they leave the source.
 *
 * <p><b>Threading:</b> {@link #start} and {@link #close} are called once each, from any thread. An implementation
 * writes to the store from its own thread after {@link #start} returns and stops writing before {@link #close}
 * returns.
 */
public interface EndpointDiscovery extends AutoCloseable {

  /**
   * Loads the source's current endpoints into {@code store} before returning, then keeps the store in sync until
   * {@link #close()}: endpoints that appear are upserted, endpoints that disappear are removed.
   *
   * @throws IllegalStateException if called twice
   * @throws RuntimeException if the initial source cannot be read; the message names the source and the cause
   */
  void start(EndpointStore store);

  /** Stops watching the source. Endpoints already in the store stay there. Idempotent. */
  @Override
  void close();
}
