package dev.epp.kubernetes;

import dev.epp.api.requestcontrol.Objectives;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The priorities of the {@code InferenceObjective}s ({@code inference.networking.x-k8s.io/v1alpha2}) in the pool's
 * namespace whose {@code spec.poolRef} names the pool, by name, kept current by an informer. As in the Go EPP, an
 * unknown objective, or one without {@code spec.priority}, has priority 0; objectives being deleted are ignored.
 *
 * <p>If the API server does not serve the CRD, every priority is 0 until it does.
 *
 * <p><b>Threading:</b> thread-safe; {@link #priority} reads an immutable map published by the informer's thread.
 */
public final class KubernetesObjectives implements Objectives, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(KubernetesObjectives.class);

  private final PoolRef pool;
  private final Informer<GenericKubernetesResource> informer;
  private volatile Map<String, Integer> priorities = Map.of();

  private KubernetesObjectives(KubernetesClient client, PoolRef pool) {
    this.pool = pool;
    this.informer = Informer.startCustomResources(client, Resources.INFERENCE_OBJECTIVE, pool.namespace(),
        this::refresh, "every priority is 0");
    refresh();
  }

  /**
   * Lists the objectives of {@code pool} before returning, then follows them until {@link #close()}.
   *
   * @throws IllegalStateException if the API server is unreachable or refuses the list; the message names the server
   */
  public static KubernetesObjectives start(KubernetesClient client, PoolRef pool) {
    return new KubernetesObjectives(client, pool);
  }

  @Override
  public int priority(String name) {
    Integer priority = priorities.get(name);
    return priority == null ? 0 : priority;
  }

  /** Stops following the objectives; the last priorities stay. Idempotent. */
  @Override
  public void close() {
    informer.close();
  }

  private synchronized void refresh() {
    if (informer == null) {
      return;
    }
    Map<String, Integer> next = new HashMap<>();
    for (GenericKubernetesResource objective : informer.items()) {
      if (Resources.live(objective) && Resources.refersTo(objective, pool)) {
        next.put(objective.getMetadata().getName(),
            Resources.intValue(Resources.field(objective, "spec", "priority"), 0));
      }
    }
    if (!next.equals(priorities)) {
      log.info("InferenceObjectives of pool {}: {}", pool, next);
      priorities = Map.copyOf(next);
    }
  }
}
