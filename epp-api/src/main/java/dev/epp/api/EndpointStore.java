package dev.epp.api;

import dev.epp.api.scheduling.Candidates;

/**
 * The endpoints of one inference pool and their latest metrics: what discovery writes, the metrics scraper updates
 * and the request path reads.
 *
 * <p><b>Threading:</b> implementations are thread-safe. {@link #snapshot()} never blocks and returns an immutable view;
 * writers may be serialised. Listeners run on the writer's thread, in order, after the change is visible, and must
 * return quickly.
 */
public interface EndpointStore {

  /** The current endpoints and metrics; immutable. */
  Candidates snapshot();

  /**
   * Adds an endpoint, or replaces the one with the same name. A replaced endpoint keeps its metrics if its address
   * and port are unchanged; otherwise its metrics start over as {@link EndpointMetrics#none()}.
   *
   * @return whether the store changed
   */
  boolean upsert(Endpoint endpoint);

  /**
   * Removes the endpoint named {@code name}.
   *
   * @return whether it was present
   */
  boolean remove(String name);

  /**
   * Replaces the metrics of the endpoint named {@code name}.
   *
   * @return whether the endpoint is present (metrics for an endpoint that has left are dropped)
   */
  boolean updateMetrics(String name, EndpointMetrics metrics);

  /** Registers a listener for later membership changes and metrics updates. */
  void addListener(Listener listener);

  /** Unregisters a listener. */
  void removeListener(Listener listener);

  /** Observes membership changes, e.g. to start and stop scraping an endpoint, and metrics updates. */
  interface Listener {

    /** Called after {@code endpoint} joined the store, or replaced an endpoint of the same name. */
    void added(Endpoint endpoint);

    /** Called after {@code endpoint} left the store. */
    void removed(Endpoint endpoint);

    /**
     * Called after the metrics of {@code endpoint} were replaced (e.g. to re-check whether the pool has room). The
     * default does nothing.
     */
    default void metricsUpdated(Endpoint endpoint) {}
  }
}
