package dev.epp.kubernetes;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointDiscovery;
import dev.epp.api.EndpointStore;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ListOptionsBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Endpoints from Kubernetes pods, kept current by informers: the pods an {@code InferencePool} selects
 * ({@linkplain #forPool pool mode}, {@code --pool-name}), or the pods a fixed label selector matches
 * ({@linkplain #forSelector selector mode}, {@code --endpoint-selector}, the Go EPP's standalone mode).
 *
 * <p>A pod is in the pool while its labels match the selector, its {@code Ready} condition is {@code True}, it has
 * an IP and it is not being deleted. It yields one endpoint per active target port, named {@code <pod>-rank-<i>}
 * ({@code i} = the port's index in the target ports), with the pod's IP, the port and the pod's labels (so
 * {@code inference.networking.k8s.io/engine-type} selects the metric mapping). The annotation
 * {@value #ACTIVE_PORTS_ANNOTATION} (comma-separated port numbers) restricts the active ports; numbers that are not
 * target ports are ignored. A pod that stops being ready, is deleted or changes IP leaves or changes the pool at the
 * next event; the store's listeners (the metrics scraper) follow.
 *
 * <p>In pool mode a change of the pool's selector restarts the pod watch and reconciles the pool once the new
 * selector's pods are listed; a change of its target ports reconciles at once. A deleted pool empties the pool until
 * it is created again; a pool that does not exist at start is logged and waited for, as the Go EPP does.
 *
 * <p>Only endpoints this discovery added are ever removed or replaced; the store may hold others. Every event
 * recomputes the pool from the informer's cache, so a watch that is lost and relisted neither loses nor duplicates
 * endpoints.
 *
 * <p><b>Threading:</b> thread-safe. Informer callbacks run on fabric8's threads and write the store under one lock,
 * without I/O. The client belongs to the caller, who closes it after {@link #close()}.
 */
public final class KubernetesDiscovery implements EndpointDiscovery {

  /** The pod annotation listing the active target ports. */
  public static final String ACTIVE_PORTS_ANNOTATION = "inference.networking.k8s.io/active-ports";

  /** The most target ports a pool may have, as for {@code --endpoint-target-ports} and the CRD. */
  public static final int MAX_TARGET_PORTS = 8;

  private static final Logger log = LoggerFactory.getLogger(KubernetesDiscovery.class);

  /** What selects the pods and which of their ports are endpoints. */
  private record Selection(Map<String, String> selector, List<Integer> ports) {}

  private final KubernetesClient client;
  private final String namespace;
  private final PoolRef pool;
  private final Selection fixed;

  private final Object lock = new Object();
  private EndpointStore store;
  private boolean closed;
  private Informer<GenericKubernetesResource> poolInformer;
  private Selection selection;
  private Informer<Pod> pods;
  private Map<String, Endpoint> owned = Map.of();

  private KubernetesDiscovery(KubernetesClient client, String namespace, PoolRef pool, Selection fixed) {
    this.client = Objects.requireNonNull(client, "client");
    this.namespace = namespace;
    this.pool = pool;
    this.fixed = fixed;
  }

  /** Discovery of the pods {@code pool} selects on its target ports. */
  public static KubernetesDiscovery forPool(KubernetesClient client, PoolRef pool) {
    return new KubernetesDiscovery(client, pool.namespace(), pool, null);
  }

  /**
   * Discovery without an {@code InferencePool}: the pods of {@code namespace} whose labels include
   * {@code selector}, on {@code targetPorts}.
   *
   * @param selector labels a pod must have; see {@link #parseSelector}
   * @param targetPorts 1 to {@value #MAX_TARGET_PORTS} ports in 1..65535; duplicates are dropped
   */
  public static KubernetesDiscovery forSelector(
      KubernetesClient client, String namespace, Map<String, String> selector, List<Integer> targetPorts) {
    Objects.requireNonNull(namespace, "namespace");
    if (selector.isEmpty()) {
      throw new IllegalArgumentException("the endpoint selector must not be empty");
    }
    List<Integer> ports = List.copyOf(new LinkedHashSet<>(targetPorts));
    if (ports.isEmpty() || ports.size() > MAX_TARGET_PORTS) {
      throw new IllegalArgumentException(
          "expected 1 to " + MAX_TARGET_PORTS + " target ports, got " + ports.size() + ": " + targetPorts);
    }
    for (int port : ports) {
      if (port < 1 || port > 65535) {
        throw new IllegalArgumentException("target port " + port + " is not in 1..65535");
      }
    }
    return new KubernetesDiscovery(client, namespace, null, new Selection(Map.copyOf(selector), ports));
  }

  /**
   * Parses an {@code --endpoint-selector} value, {@code key=value[,key=value...]} ({@code ==} is accepted for
   * {@code =}; spaces around items are ignored).
   *
   * @throws IllegalArgumentException if an item is not {@code key=value} or a key repeats
   */
  public static Map<String, String> parseSelector(String text) {
    Map<String, String> selector = new LinkedHashMap<>();
    for (String item : text.split(",", -1)) {
      String trimmed = item.strip();
      int eq = trimmed.indexOf('=');
      if (eq <= 0) {
        throw new IllegalArgumentException("endpoint selector '" + text + "': expected key=value, got '" + item + "'");
      }
      String key = trimmed.substring(0, eq).strip();
      String value = trimmed.substring(trimmed.startsWith("==", eq) ? eq + 2 : eq + 1).strip();
      if (selector.put(key, value) != null) {
        throw new IllegalArgumentException("endpoint selector '" + text + "': key '" + key + "' repeats");
      }
    }
    return selector;
  }

  /**
   * Lists the pool (in pool mode) and its ready pods into {@code store} before returning, then follows them.
   *
   * @throws IllegalStateException if called twice or after {@link #close()}, or if the API server is unreachable or
   *     refuses to list the pool or the pods, or the first list takes more than 30 s; the message names the server
   */
  @Override
  public void start(EndpointStore store) {
    Objects.requireNonNull(store, "store");
    synchronized (lock) {
      if (this.store != null || closed) {
        throw new IllegalStateException("already started or closed");
      }
      this.store = store;
    }
    try {
      Informer<Pod> initial;
      if (pool != null) {
        String what = "InferencePool " + pool;
        var pools = client.genericKubernetesResources(Resources.INFERENCE_POOL).inNamespace(namespace);
        if (!Informer.check(client, "InferencePools in " + namespace, () -> pools.list(limit1()))) {
          log.warn("The API server does not serve InferencePools (is the CRD installed?); waiting for {}", what);
        }
        Informer<GenericKubernetesResource> informer = Informer.start(
            what, pools.withName(pool.name()).runnableInformer(0), this::poolChanged);
        synchronized (lock) {
          poolInformer = informer;
        }
        informer.awaitSynced();
        poolChanged();
        synchronized (lock) {
          if (selection == null) {
            log.warn("{} not found; the pool stays empty until it exists", what);
          }
          initial = pods;
        }
      } else {
        Informer.check(client, "pods in " + namespace, () -> client.pods().inNamespace(namespace).list(limit1()));
        synchronized (lock) {
          select(fixed);
          initial = pods;
        }
      }
      if (initial != null) {
        initial.awaitSynced();
      }
      reconcile();
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  /** Stops the informers. Endpoints already in the store stay there. Idempotent. */
  @Override
  public void close() {
    synchronized (lock) {
      closed = true;
      if (poolInformer != null) {
        poolInformer.close();
      }
      if (pods != null) {
        pods.close();
      }
    }
  }

  private static io.fabric8.kubernetes.api.model.ListOptions limit1() {
    return new ListOptionsBuilder().withLimit(1L).build();
  }

  /** Applies the pool's current spec from the informer's cache. */
  private void poolChanged() {
    synchronized (lock) {
      if (closed || poolInformer == null) {
        return;
      }
      List<GenericKubernetesResource> items = poolInformer.items();
      GenericKubernetesResource resource = items.stream()
          .filter(r -> r.getMetadata() != null && pool.name().equals(r.getMetadata().getName()))
          .findFirst()
          .orElse(null);
      select(resource == null || !Resources.live(resource) ? null : selection(resource));
    }
  }

  private Selection selection(GenericKubernetesResource resource) {
    Map<String, String> selector = Resources.stringMap(Resources.field(resource, "spec", "selector", "matchLabels"));
    List<Integer> ports = new ArrayList<>();
    for (Object port : Resources.list(Resources.field(resource, "spec", "targetPorts"))) {
      int number = Resources.intValue(Resources.field(port, "number"), 0);
      if (number >= 1 && number <= 65535) {
        ports.add(number);
      } else {
        log.warn("InferencePool {}: ignoring target port {}", pool, port);
      }
    }
    return new Selection(Map.copyOf(selector), List.copyOf(ports));
  }

  /** Switches to {@code next} (null: no pool), re-watching pods if the selector changed. Holds {@link #lock}. */
  private void select(Selection next) {
    if (closed || Objects.equals(next, selection)) {
      return;
    }
    Selection previous = selection;
    selection = next;
    log.info("Pool {}: selector {}, target ports {}", pool != null ? pool : namespace,
        next == null ? "none (no pool)" : next.selector(), next == null ? List.of() : next.ports());
    if (previous == null || next == null || !previous.selector().equals(next.selector())) {
      if (pods != null) {
        pods.close();
        pods = null;
      }
      if (next != null) {
        String what = "pods " + next.selector() + " in " + namespace;
        pods = Informer.start(
            what, client.pods().inNamespace(namespace).withLabels(next.selector()).runnableInformer(0), this::reconcile);
      }
    }
    reconcile();
  }

  /**
   * Makes the store's endpoints from this discovery equal the endpoints of the current selection's ready pods. Does
   * nothing while a new pod watch has not listed its pods yet, so a re-selection never empties the pool on the way.
   */
  private void reconcile() {
    synchronized (lock) {
      if (closed || store == null) {
        return;
      }
      Map<String, Endpoint> desired = new LinkedHashMap<>();
      if (selection != null) {
        if (pods == null || !pods.synced()) {
          return;
        }
        for (Pod pod : pods.items()) {
          if (isReady(pod) && labelsMatch(pod, selection.selector())) {
            for (Endpoint endpoint : endpoints(pod, selection.ports())) {
              desired.put(endpoint.name(), endpoint);
            }
          }
        }
      }
      for (String name : owned.keySet()) {
        if (!desired.containsKey(name)) {
          store.remove(name);
        }
      }
      for (Endpoint endpoint : desired.values()) {
        Endpoint old = owned.get(endpoint.name());
        if (!endpoint.equals(old)) {
          store.upsert(endpoint);
        }
      }
      owned = desired;
    }
  }

  /**
   * Whether the pod serves traffic: its {@code Ready} condition is {@code True}, it has an IP and it is not being
   * deleted.
   */
  static boolean isReady(Pod pod) {
    if (pod.getMetadata() == null || pod.getMetadata().getDeletionTimestamp() != null || pod.getStatus() == null) {
      return false;
    }
    String ip = pod.getStatus().getPodIP();
    if (ip == null || ip.isEmpty()) {
      return false;
    }
    for (PodCondition condition : pod.getStatus().getConditions()) {
      if ("Ready".equals(condition.getType())) {
        return "True".equals(condition.getStatus());
      }
    }
    return false;
  }

  private static boolean labelsMatch(Pod pod, Map<String, String> selector) {
    Map<String, String> labels = pod.getMetadata().getLabels();
    for (Map.Entry<String, String> e : selector.entrySet()) {
      if (labels == null || !e.getValue().equals(labels.get(e.getKey()))) {
        return false;
      }
    }
    return true;
  }

  /** The endpoints of a ready pod: one per active target port, named {@code <pod>-rank-<index of the port>}. */
  static List<Endpoint> endpoints(Pod pod, List<Integer> targetPorts) {
    Set<Integer> active = activePorts(pod, targetPorts);
    Map<String, String> labels = pod.getMetadata().getLabels() == null ? Map.of() : pod.getMetadata().getLabels();
    List<Endpoint> endpoints = new ArrayList<>();
    for (int i = 0; i < targetPorts.size(); i++) {
      int port = targetPorts.get(i);
      if (active.contains(port)) {
        endpoints.add(new Endpoint(
            pod.getMetadata().getName() + "-rank-" + i, pod.getStatus().getPodIP(), port, labels));
      }
    }
    return endpoints;
  }

  /** The target ports the pod's {@value #ACTIVE_PORTS_ANNOTATION} annotation lists; all of them without it. */
  private static Set<Integer> activePorts(Pod pod, List<Integer> targetPorts) {
    Map<String, String> annotations = pod.getMetadata().getAnnotations();
    String value = annotations == null ? null : annotations.get(ACTIVE_PORTS_ANNOTATION);
    if (value == null) {
      return new HashSet<>(targetPorts);
    }
    Set<Integer> active = new HashSet<>();
    for (String item : value.split(",")) {
      try {
        int port = Integer.parseInt(item.strip());
        if (targetPorts.contains(port)) {
          active.add(port);
        }
      } catch (NumberFormatException e) {
        log.debug("Pod {}: ignoring active port '{}'", pod.getMetadata().getName(), item);
      }
    }
    return active;
  }
}
