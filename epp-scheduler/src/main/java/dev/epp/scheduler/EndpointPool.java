package dev.epp.scheduler;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.EndpointStore;
import dev.epp.api.scheduling.Candidates;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link EndpointStore} of one inference pool: the EPP's datastore.
 *
 * <p>Discovery adds and removes endpoints, the scraper replaces their metrics, and the request path reads
 * {@link #snapshot()}: an immutable {@link Candidates} published with one volatile write per change, so reads never
 * lock and every request sees one consistent set of metrics.
 *
 * <p>Each endpoint joining, leaving or changing address is logged once at INFO, whatever discovery made the change.
 *
 * <p><b>Threading:</b> thread-safe. Writers are serialised; listeners run on the writer's thread, in order, after
 * the change is visible, and must return quickly.
 */
public final class EndpointPool implements EndpointStore {

  private static final Logger log = LoggerFactory.getLogger(EndpointPool.class);

  private final Object writeLock = new Object();
  private final List<Listener> listeners = new CopyOnWriteArrayList<>();
  private volatile Snapshot snapshot = new Snapshot(new Endpoint[0], new EndpointMetrics[0], Map.of());

  /** An empty pool. */
  public EndpointPool() {}

  @Override
  public Candidates snapshot() {
    return snapshot.candidates;
  }

  /** The endpoint named {@code name}, if in the pool. */
  public Optional<Endpoint> endpoint(String name) {
    Snapshot current = snapshot;
    Integer i = current.indexByName.get(name);
    return i == null ? Optional.empty() : Optional.of(current.endpoints[i]);
  }

  /** The current endpoints in the order they joined. */
  public List<Endpoint> endpoints() {
    return List.of(snapshot.endpoints);
  }

  @Override
  public boolean upsert(Endpoint endpoint) {
    Objects.requireNonNull(endpoint, "endpoint");
    synchronized (writeLock) {
      Snapshot current = snapshot;
      Integer i = current.indexByName.get(endpoint.name());
      if (i == null) {
        Endpoint[] endpoints = Arrays.copyOf(current.endpoints, current.endpoints.length + 1);
        EndpointMetrics[] metrics = Arrays.copyOf(current.metrics, current.metrics.length + 1);
        endpoints[endpoints.length - 1] = endpoint;
        metrics[metrics.length - 1] = EndpointMetrics.none();
        snapshot = new Snapshot(endpoints, metrics, indexByName(endpoints));
        log.info("Endpoint {} ({}) joined the pool", endpoint.name(), endpoint.hostPort());
      } else {
        Endpoint old = current.endpoints[i];
        if (old.equals(endpoint)) {
          return false;
        }
        Endpoint[] endpoints = current.endpoints.clone();
        EndpointMetrics[] metrics = current.metrics.clone();
        endpoints[i] = endpoint;
        boolean moved = !old.address().equals(endpoint.address()) || old.port() != endpoint.port();
        if (moved) {
          metrics[i] = EndpointMetrics.none();
        }
        snapshot = new Snapshot(endpoints, metrics, current.indexByName);
        if (moved) {
          log.info("Endpoint {} moved from {} to {}", endpoint.name(), old.hostPort(), endpoint.hostPort());
        }
      }
      for (Listener listener : listeners) {
        listener.added(endpoint);
      }
      return true;
    }
  }

  @Override
  public boolean remove(String name) {
    synchronized (writeLock) {
      Snapshot current = snapshot;
      Integer i = current.indexByName.get(name);
      if (i == null) {
        return false;
      }
      Endpoint removed = current.endpoints[i];
      int n = current.endpoints.length;
      Endpoint[] endpoints = new Endpoint[n - 1];
      EndpointMetrics[] metrics = new EndpointMetrics[n - 1];
      System.arraycopy(current.endpoints, 0, endpoints, 0, i);
      System.arraycopy(current.endpoints, i + 1, endpoints, i, n - i - 1);
      System.arraycopy(current.metrics, 0, metrics, 0, i);
      System.arraycopy(current.metrics, i + 1, metrics, i, n - i - 1);
      snapshot = new Snapshot(endpoints, metrics, indexByName(endpoints));
      log.info("Endpoint {} ({}) left the pool", removed.name(), removed.hostPort());
      for (Listener listener : listeners) {
        listener.removed(removed);
      }
      return true;
    }
  }

  @Override
  public boolean updateMetrics(String name, EndpointMetrics metrics) {
    Objects.requireNonNull(metrics, "metrics");
    synchronized (writeLock) {
      Snapshot current = snapshot;
      Integer i = current.indexByName.get(name);
      if (i == null) {
        return false;
      }
      EndpointMetrics[] updated = current.metrics.clone();
      updated[i] = metrics;
      snapshot = new Snapshot(current.endpoints, updated, current.indexByName);
      for (Listener listener : listeners) {
        listener.metricsUpdated(current.endpoints[i]);
      }
      return true;
    }
  }

  @Override
  public void addListener(Listener listener) {
    listeners.add(Objects.requireNonNull(listener, "listener"));
  }

  @Override
  public void removeListener(Listener listener) {
    listeners.remove(listener);
  }

  private static Map<String, Integer> indexByName(Endpoint[] endpoints) {
    Map<String, Integer> index = new HashMap<>();
    for (int i = 0; i < endpoints.length; i++) {
      index.put(endpoints[i].name(), i);
    }
    return Map.copyOf(index);
  }

  /** One immutable version of the pool; {@code candidates} is the view the request path reads. */
  private static final class Snapshot {
    final Endpoint[] endpoints;
    final EndpointMetrics[] metrics;
    final Map<String, Integer> indexByName;
    final Candidates candidates;

    Snapshot(Endpoint[] endpoints, EndpointMetrics[] metrics, Map<String, Integer> indexByName) {
      this.endpoints = endpoints;
      this.metrics = metrics;
      this.indexByName = indexByName;
      this.candidates = Candidates.of(Arrays.asList(endpoints), Arrays.asList(metrics));
    }
  }
}
