package dev.epp.kubernetes;

import static dev.epp.kubernetes.Fixtures.NS;
import static dev.epp.kubernetes.Fixtures.await;
import static dev.epp.kubernetes.Fixtures.pod;
import static dev.epp.kubernetes.Fixtures.pool;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointStore;
import dev.epp.scheduler.EndpointPool;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.ConfigBuilder;
import java.io.IOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.UnaryOperator;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Pool membership from pods and an InferencePool, against fabric8's CRUD mock API server, and against
 * {@link LoopbackApiServer} when the watches are lost.
 */
class KubernetesDiscoveryTest {

  private final MockApiServer api = new MockApiServer();
  private final KubernetesClient client = api.client;
  private final EndpointPool store = new EndpointPool();
  private final List<String> added = new CopyOnWriteArrayList<>();
  private final List<String> removed = new CopyOnWriteArrayList<>();
  private KubernetesDiscovery discovery;

  @BeforeEach
  void setUp() {
    store.addListener(new EndpointStore.Listener() {
      @Override
      public void added(Endpoint endpoint) {
        added.add(endpoint.name());
      }

      @Override
      public void removed(Endpoint endpoint) {
        removed.add(endpoint.name());
      }
    });
  }

  @AfterEach
  void tearDown() {
    if (discovery != null) {
      discovery.close();
    }
    api.close();
  }

  private Map<String, String> endpoints() {
    Map<String, String> endpoints = new TreeMap<>();
    store.endpoints().forEach(e -> endpoints.put(e.name(), e.hostPort()));
    return endpoints;
  }

  private void create(Pod pod) {
    client.pods().inNamespace(NS).resource(pod).create();
  }

  private void edit(String pod, UnaryOperator<Pod> change) {
    client.pods().inNamespace(NS).withName(pod).edit(change);
  }

  private static Pod ready(Pod pod, boolean ready) {
    pod.getStatus().getConditions().get(0).setStatus(ready ? "True" : "False");
    return pod;
  }

  private void createPool(GenericKubernetesResource pool) {
    client.genericKubernetesResources(Resources.INFERENCE_POOL).inNamespace(NS).resource(pool).create();
  }

  private void startPool() {
    discovery = KubernetesDiscovery.forPool(client, PoolRef.of(NS, "pool"));
    discovery.start(store);
  }

  @Test
  void readyPodsAreLoadedBeforeStartReturnsWithTheirLabels() {
    createPool(pool("pool", List.of(8000), "app=vllm"));
    create(pod("a", "10.0.0.1", true, "app=vllm", "inference.networking.k8s.io/engine-type=sglang"));
    create(pod("b", "10.0.0.2", false, "app=vllm"));
    create(pod("c", "10.0.0.3", true, "app=other"));
    create(pod("d", null, true, "app=vllm"));

    startPool();

    assertEquals(Map.of("a-rank-0", "10.0.0.1:8000"), endpoints());
    assertEquals(Map.of("app", "vllm", "inference.networking.k8s.io/engine-type", "sglang"),
        store.endpoint("a-rank-0").orElseThrow().labels());
  }

  @Test
  void podsMadeReadyNotReadyDeletedOrReaddressedMoveThePool() {
    createPool(pool("pool", List.of(8000), "app=vllm"));
    startPool();
    assertEquals(Map.of(), endpoints());

    create(pod("a", "10.0.0.1", false, "app=vllm"));
    create(pod("b", "10.0.0.2", true, "app=vllm"));
    await(Map.of("b-rank-0", "10.0.0.2:8000"), this::endpoints);

    edit("a", p -> ready(p, true));
    await(Map.of("a-rank-0", "10.0.0.1:8000", "b-rank-0", "10.0.0.2:8000"), this::endpoints);

    edit("b", p -> ready(p, false));
    await(Map.of("a-rank-0", "10.0.0.1:8000"), this::endpoints);
    assertEquals(List.of("b-rank-0"), removed, "the scraper is told the endpoint left");

    edit("a", p -> {
      p.getStatus().setPodIP("10.0.0.9");
      return p;
    });
    await(Map.of("a-rank-0", "10.0.0.9:8000"), this::endpoints);

    client.pods().inNamespace(NS).withName("a").delete();
    await(Map.of(), this::endpoints);
  }

  @Test
  void twoTargetPortsGiveTwoRanksAndTheActivePortsAnnotationRestrictsThem() {
    createPool(pool("pool", List.of(8000, 8001), "app=vllm"));
    create(pod("a", "10.0.0.1", true, "app=vllm"));
    startPool();
    assertEquals(Map.of("a-rank-0", "10.0.0.1:8000", "a-rank-1", "10.0.0.1:8001"), endpoints());

    edit("a", p -> {
      p.getMetadata().setAnnotations(Map.of(KubernetesDiscovery.ACTIVE_PORTS_ANNOTATION, "8001, 9999"));
      return p;
    });
    await(Map.of("a-rank-1", "10.0.0.1:8001"), this::endpoints);

    edit("a", p -> {
      p.getMetadata().setAnnotations(Map.of(KubernetesDiscovery.ACTIVE_PORTS_ANNOTATION, "8000,8001"));
      return p;
    });
    await(Map.of("a-rank-0", "10.0.0.1:8000", "a-rank-1", "10.0.0.1:8001"), this::endpoints);
  }

  @Test
  void aSelectorChangeReselectsThePodsAndAPortChangeRenamesTheRanks() {
    createPool(pool("pool", List.of(8000), "app=a"));
    create(pod("a1", "10.0.0.1", true, "app=a"));
    create(pod("b1", "10.0.0.2", true, "app=b"));
    startPool();
    assertEquals(Map.of("a1-rank-0", "10.0.0.1:8000"), endpoints());

    client.genericKubernetesResources(Resources.INFERENCE_POOL).inNamespace(NS).withName("pool")
        .edit(p -> pool("pool", List.of(8000), "app=b"));
    await(Map.of("b1-rank-0", "10.0.0.2:8000"), this::endpoints);

    client.genericKubernetesResources(Resources.INFERENCE_POOL).inNamespace(NS).withName("pool")
        .edit(p -> pool("pool", List.of(9000, 8000), "app=b"));
    await(Map.of("b1-rank-0", "10.0.0.2:9000", "b1-rank-1", "10.0.0.2:8000"), this::endpoints);

    // Pods matching the old selector no longer count.
    edit("a1", p -> {
      p.getStatus().setPodIP("10.0.0.5");
      return p;
    });
    create(pod("b2", "10.0.0.3", true, "app=b"));
    await(Map.of("b1-rank-0", "10.0.0.2:9000", "b1-rank-1", "10.0.0.2:8000",
        "b2-rank-0", "10.0.0.3:9000", "b2-rank-1", "10.0.0.3:8000"), this::endpoints);
  }

  @Test
  void aDeletedPoolEmptiesThePoolAndAMissingPoolIsWaitedFor() {
    create(pod("a", "10.0.0.1", true, "app=vllm"));
    startPool();
    assertEquals(Map.of(), endpoints());

    createPool(pool("pool", List.of(8000), "app=vllm"));
    await(Map.of("a-rank-0", "10.0.0.1:8000"), this::endpoints);

    client.genericKubernetesResources(Resources.INFERENCE_POOL).inNamespace(NS).withName("pool").delete();
    await(Map.of(), this::endpoints);
  }

  @Test
  void selectorModeNeedsNoInferencePool() {
    create(pod("a", "10.0.0.1", true, "app=vllm", "tier=gpu"));
    create(pod("b", "10.0.0.2", true, "app=vllm"));
    discovery = KubernetesDiscovery.forSelector(
        client, NS, KubernetesDiscovery.parseSelector("app=vllm, tier==gpu"), List.of(8000, 8000, 8001));
    discovery.start(store);
    assertEquals(Map.of("a-rank-0", "10.0.0.1:8000", "a-rank-1", "10.0.0.1:8001"), endpoints());

    edit("b", p -> {
      p.getMetadata().getLabels().put("tier", "gpu");
      return p;
    });
    await(Map.of("a-rank-0", "10.0.0.1:8000", "a-rank-1", "10.0.0.1:8001",
        "b-rank-0", "10.0.0.2:8000", "b-rank-1", "10.0.0.2:8001"), this::endpoints);
  }

  @Test
  void onlyEndpointsItAddedAreRemoved() {
    store.upsert(Endpoint.of("static-rank-0", "10.9.9.9", 8000));
    createPool(pool("pool", List.of(8000), "app=vllm"));
    create(pod("a", "10.0.0.1", true, "app=vllm"));
    startPool();
    client.pods().inNamespace(NS).withName("a").delete();
    await(Map.of("static-rank-0", "10.9.9.9:8000"), this::endpoints);
  }

  @Test
  void closeStopsFollowingAndKeepsTheEndpoints() {
    createPool(pool("pool", List.of(8000), "app=vllm"));
    create(pod("a", "10.0.0.1", true, "app=vllm"));
    startPool();
    discovery.close();
    discovery.close();
    // Change the pods only once the mock has seen the watches close: its server stalls when it sends an event to a
    // watch that is closing.
    await(0, api::openWatches);
    client.pods().inNamespace(NS).withName("a").delete();
    create(pod("b", "10.0.0.2", true, "app=vllm"));
    // A live discovery sees the changes; by then the closed one would have seen them too.
    EndpointPool live = new EndpointPool();
    try (KubernetesDiscovery other = KubernetesDiscovery.forPool(client, PoolRef.of(NS, "pool"))) {
      other.start(live);
      await(List.of("b-rank-0"), () -> live.endpoints().stream().map(Endpoint::name).toList());
    }
    assertEquals(Map.of("a-rank-0", "10.0.0.1:8000"), endpoints());
    assertThrows(IllegalStateException.class, () -> discovery.start(store));
  }

  @Test
  void selectorsAndPortsAreValidated() {
    assertEquals(Map.of("a", "b", "c", "d"), KubernetesDiscovery.parseSelector("a=b,c==d"));
    assertThrows(IllegalArgumentException.class, () -> KubernetesDiscovery.parseSelector("a"));
    assertThrows(IllegalArgumentException.class, () -> KubernetesDiscovery.parseSelector("a=b,a=c"));
    assertThrows(IllegalArgumentException.class, () -> KubernetesDiscovery.parseSelector("a=b,"));
    Map<String, String> selector = Map.of("app", "vllm");
    assertThrows(IllegalArgumentException.class, () -> KubernetesDiscovery.forSelector(client, NS, selector, List.of()));
    assertThrows(IllegalArgumentException.class,
        () -> KubernetesDiscovery.forSelector(client, NS, selector, List.of(1, 2, 3, 4, 5, 6, 7, 8, 9)));
    assertThrows(IllegalArgumentException.class,
        () -> KubernetesDiscovery.forSelector(client, NS, selector, List.of(70000)));
    assertThrows(IllegalArgumentException.class,
        () -> KubernetesDiscovery.forSelector(client, NS, Map.of(), List.of(8000)));
    assertTrue(KubernetesDiscovery.forSelector(client, NS, selector, List.of(1, 2, 3, 4, 5, 6, 7, 8, 8)) != null);
  }

  /**
   * Changes made while the watches are lost (a pod deleted, one added, one made NotReady) reach the pool when they are
   * back: with the history kept the informer rewatches from its resource version and gets the events it missed; with
   * the history compacted its watch gets 410 Gone and it lists again.
   */
  @ParameterizedTest(name = "history kept: {0}")
  @ValueSource(booleans = {true, false})
  void aLostWatchCatchesUpWithoutLosingOrDuplicatingEndpoints(boolean historyKept) {
    LoopbackApiServer server = new LoopbackApiServer();
    try {
      server.put(pool("pool", List.of(8000), "app=vllm"));
      server.put(pod("a", "10.0.0.1", true, "app=vllm"));
      server.put(pod("b", "10.0.0.2", true, "app=vllm"));
      server.put(pod("d", "10.0.0.4", true, "app=vllm"));
      discovery = KubernetesDiscovery.forPool(server.client(), PoolRef.of(NS, "pool"));
      discovery.start(store);
      assertEquals(Map.of("a-rank-0", "10.0.0.1:8000", "b-rank-0", "10.0.0.2:8000", "d-rank-0", "10.0.0.4:8000"),
          endpoints());
      server.put(pod("d", "10.0.0.4", true, "app=vllm", "revision=2"));
      await(Map.of("app", "vllm", "revision", "2"), () -> store.endpoint("d-rank-0").orElseThrow().labels());

      server.loseWatches();
      await(2, server::heldWatches); // the pool's and the pods' informers are waiting to watch again
      int podLists = server.lists("pods");
      int replayed = server.replayedEvents();
      server.delete(pod("a", "10.0.0.1", true, "app=vllm"));
      server.put(pod("c", "10.0.0.3", true, "app=vllm"));
      server.put(pod("b", "10.0.0.2", false, "app=vllm"));
      assertEquals(Set.of("a-rank-0", "b-rank-0", "d-rank-0"), endpoints().keySet(), "no watch, no news");

      server.restoreWatches(historyKept);
      await(Map.of("c-rank-0", "10.0.0.3:8000", "d-rank-0", "10.0.0.4:8000"), this::endpoints);
      if (historyKept) {
        assertEquals(3, server.replayedEvents() - replayed, "the pods' watch resumed with the three events it missed");
        assertEquals(0, server.goneWatches());
        assertEquals(podLists, server.lists("pods"), "no relist was needed");
      } else {
        assertEquals(2, server.goneWatches(), "both watches were too old to resume");
        assertEquals(podLists + 1, server.lists("pods"), "the pods were listed again");
      }

      // The watch works again.
      server.put(pod("e", "10.0.0.5", true, "app=vllm"));
      await(Map.of("c-rank-0", "10.0.0.3:8000", "d-rank-0", "10.0.0.4:8000", "e-rank-0", "10.0.0.5:8000"),
          this::endpoints);
      assertEquals(List.of("a-rank-0", "b-rank-0"), removed.stream().sorted().toList());
      assertEquals(Map.of("a-rank-0", 1L, "b-rank-0", 1L, "c-rank-0", 1L, "d-rank-0", 2L, "e-rank-0", 1L),
          added.stream().collect(Collectors.groupingBy(name -> name, TreeMap::new, Collectors.counting())),
          "each pod joined once; d's label change replaced it once");
    } finally {
      if (discovery != null) {
        discovery.close(); // before the server goes
        discovery = null;
      }
      server.close();
    }
  }

  @Test
  void anUnreachableApiServerFailsStartWithAClearMessage() throws IOException {
    int port;
    try (ServerSocket socket = new ServerSocket(0)) {
      port = socket.getLocalPort();
    }
    String url = "https://127.0.0.1:" + port;
    try (KubernetesClient unreachable =
        KubernetesClients.create(new ConfigBuilder().withMasterUrl(url).withTrustCerts(true).build())) {
      KubernetesDiscovery pool = KubernetesDiscovery.forPool(unreachable, PoolRef.of(NS, "pool"));
      IllegalStateException e = assertTimeoutPreemptively(Duration.ofSeconds(20),
          () -> assertThrows(IllegalStateException.class, () -> pool.start(store)));
      assertTrue(e.getMessage().contains("127.0.0.1:" + port), e.getMessage());
      assertTrue(e.getMessage().startsWith("Cannot list InferencePools in llm from the Kubernetes API server"),
          e.getMessage());
      KubernetesDiscovery selector = KubernetesDiscovery.forSelector(unreachable, NS, Map.of("app", "x"), List.of(80));
      assertThrows(IllegalStateException.class, () -> selector.start(store));
    }
  }
}
