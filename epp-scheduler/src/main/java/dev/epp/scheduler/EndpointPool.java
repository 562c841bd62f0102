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
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link EndpointStore} of one inference pool: the EPP's datastore.
 *
 * <p>Discovery adds and removes endpoints, the scraper replaces their metrics, and the request path reads
 * {@link #snapshot()}. A metrics update writes the endpoint's slot and bumps a version: constant time, no allocation,
 * whatever the pool's size (as the Go EPP keeps an atomic metrics value per endpoint). A membership change copies the
 * endpoint list. {@link #snapshot()} never locks and returns an immutable {@link Candidates}; the first read after a
 * change copies the metrics references once (linear in the pool's size) and later reads share that copy until the
 * next change, so a busy scraper costs the request path at most one copy per request, and a busy request path one
 * copy per update. Every snapshot holds each endpoint's metrics as last written when the snapshot was taken (a
 * snapshot taken while updates of other endpoints are under way may hold some of them, as updates of different
 * endpoints are independent); a snapshot read after {@link #updateMetrics} returns holds that update or a later one.
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
  private volatile Members members = new Members(new Endpoint[0], new AtomicReferenceArray<>(0), Map.of());
  /** Bumped after every change, under {@code writeLock}; a snapshot tagged with it holds every change before. */
  private volatile long version;
  private volatile Published published = new Published(0, new PoolCandidates(new Endpoint[0], new EndpointMetrics[0]));

  /** An empty pool. */
  public EndpointPool() {}

  @Override
  public Candidates snapshot() {
    Published p = published;
    long v = version;
    if (p.version == v) {
      return p.candidates;
    }
    Members m = members; // read after version: holds every change up to v
    EndpointMetrics[] metrics = new EndpointMetrics[m.endpoints.length];
    for (int i = 0; i < metrics.length; i++) {
      metrics[i] = m.metrics.get(i);
    }
    PoolCandidates candidates = new PoolCandidates(m.endpoints, metrics);
    published = new Published(v, candidates); // racing readers publish equally valid copies
    return candidates;
  }

  /** The endpoint named {@code name}, if in the pool. */
  public Optional<Endpoint> endpoint(String name) {
    Members current = members;
    Integer i = current.indexByName.get(name);
    return i == null ? Optional.empty() : Optional.of(current.endpoints[i]);
  }

  /** The current endpoints in the order they joined. */
  public List<Endpoint> endpoints() {
    return List.of(members.endpoints);
  }

  @Override
  public boolean upsert(Endpoint endpoint) {
    Objects.requireNonNull(endpoint, "endpoint");
    synchronized (writeLock) {
      Members current = members;
      Integer i = current.indexByName.get(endpoint.name());
      if (i == null) {
        int n = current.endpoints.length;
        Endpoint[] endpoints = Arrays.copyOf(current.endpoints, n + 1);
        endpoints[n] = endpoint;
        AtomicReferenceArray<EndpointMetrics> metrics = copy(current.metrics, n + 1);
        metrics.set(n, EndpointMetrics.none());
        publish(new Members(endpoints, metrics, indexByName(endpoints)));
        log.info("Endpoint {} ({}) joined the pool", endpoint.name(), endpoint.hostPort());
      } else {
        Endpoint old = current.endpoints[i];
        if (old.equals(endpoint)) {
          return false;
        }
        Endpoint[] endpoints = current.endpoints.clone();
        endpoints[i] = endpoint;
        AtomicReferenceArray<EndpointMetrics> metrics = copy(current.metrics, endpoints.length);
        boolean moved = !old.address().equals(endpoint.address()) || old.port() != endpoint.port();
        if (moved) {
          metrics.set(i, EndpointMetrics.none());
        }
        publish(new Members(endpoints, metrics, current.indexByName));
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
      Members current = members;
      Integer i = current.indexByName.get(name);
      if (i == null) {
        return false;
      }
      Endpoint removed = current.endpoints[i];
      int n = current.endpoints.length;
      Endpoint[] endpoints = new Endpoint[n - 1];
      AtomicReferenceArray<EndpointMetrics> metrics = new AtomicReferenceArray<>(n - 1);
      for (int j = 0, k = 0; j < n; j++) {
        if (j != i) {
          endpoints[k] = current.endpoints[j];
          metrics.set(k++, current.metrics.get(j));
        }
      }
      publish(new Members(endpoints, metrics, indexByName(endpoints)));
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
      Members current = members;
      Integer i = current.indexByName.get(name);
      if (i == null) {
        return false;
      }
      current.metrics.set(i, metrics);
      version++; // only writers, serialised by writeLock, write it
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

  /** Makes {@code next} the pool's membership; under {@code writeLock}. */
  private void publish(Members next) {
    members = next;
    version++;
  }

  private static AtomicReferenceArray<EndpointMetrics> copy(AtomicReferenceArray<EndpointMetrics> metrics, int n) {
    AtomicReferenceArray<EndpointMetrics> copy = new AtomicReferenceArray<>(n);
    for (int i = 0; i < metrics.length(); i++) {
      copy.set(i, metrics.get(i));
    }
    return copy;
  }

  private static Map<String, Integer> indexByName(Endpoint[] endpoints) {
    Map<String, Integer> index = new HashMap<>();
    for (int i = 0; i < endpoints.length; i++) {
      index.put(endpoints[i].name(), i);
    }
    return Map.copyOf(index);
  }

  /**
   * One membership: the endpoints (never modified once published) and their current metrics, one slot each, which
   * updates overwrite in place.
   */
  private record Members(Endpoint[] endpoints, AtomicReferenceArray<EndpointMetrics> metrics,
      Map<String, Integer> indexByName) {}

  /** The snapshot last built and the version it holds every change up to. */
  private record Published(long version, PoolCandidates candidates) {}

  /** A snapshot: the membership's endpoints and a copy of their metrics; immutable. */
  private static final class PoolCandidates implements Candidates {
    private final Endpoint[] endpoints;
    private final EndpointMetrics[] metrics;

    PoolCandidates(Endpoint[] endpoints, EndpointMetrics[] metrics) {
      this.endpoints = endpoints;
      this.metrics = metrics;
    }

    @Override
    public int size() {
      return endpoints.length;
    }

    @Override
    public Endpoint endpoint(int i) {
      return endpoints[i];
    }

    @Override
    public EndpointMetrics metrics(int i) {
      return metrics[i];
    }

    @Override
    public int position(int i) {
      Objects.checkIndex(i, endpoints.length);
      return i;
    }
  }
}
