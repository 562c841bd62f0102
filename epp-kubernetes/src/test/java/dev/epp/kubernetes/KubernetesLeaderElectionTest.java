package dev.epp.kubernetes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** Two replicas campaigning for one Lease on the mock API server, which stores it as a real one would. */
class KubernetesLeaderElectionTest {

  private static final String LEASE = KubernetesLeaderElection.leaseName(Fixtures.NS, "vllm-pool");
  private static final Duration LEASE_DURATION = Duration.ofSeconds(3);

  /** A replica's view of the election. */
  private static final class Replica {
    final AtomicBoolean leading = new AtomicBoolean();
    final AtomicInteger lost = new AtomicInteger();
    final KubernetesLeaderElection election;

    Replica(MockApiServer api, String identity) {
      election = new KubernetesLeaderElection(api.client, Fixtures.NS, LEASE, identity, LEASE_DURATION,
          Duration.ofSeconds(2), Duration.ofMillis(200));
      election.start(() -> leading.set(true), () -> {
        leading.set(false);
        lost.incrementAndGet();
      });
    }
  }

  @Test
  void oneReplicaLeadsAndTheOtherTakesOverWhenItStops() {
    try (MockApiServer api = new MockApiServer()) {
      Replica first = new Replica(api, "epp-0");
      Awaitility.await("epp-0 leads").atMost(Fixtures.DEADLINE).until(first.leading::get);
      Replica second = new Replica(api, "epp-1");
      try {
        Lease lease = api.client.leases().inNamespace(Fixtures.NS).withName(LEASE).get();
        assertEquals("epp-0", lease.getSpec().getHolderIdentity());
        // the follower keeps campaigning for longer than a lease duration without taking over
        Awaitility.await().pollDelay(LEASE_DURATION.plusSeconds(1)).atMost(Fixtures.DEADLINE)
            .until(() -> true);
        assertEquals(false, second.leading.get(), "a follower while the leader renews");

        first.election.close();
        Awaitility.await("epp-1 takes over").atMost(LEASE_DURATION.multipliedBy(2)).until(second.leading::get);
        assertEquals(false, first.leading.get());
        assertEquals(1, first.lost.get(), "closing a leader ends its leadership once");
        assertEquals("epp-1",
            api.client.leases().inNamespace(Fixtures.NS).withName(LEASE).get().getSpec().getHolderIdentity());
      } finally {
        second.election.close();
        first.election.close();
      }
    }
  }

  @Test
  void leaseNameIsTheGoEpps() {
    assertEquals("epp-llm-vllm-pool.gateway-api-inference-extension.sigs.k8s.io", LEASE);
  }

  @Test
  void startTwiceIsRefused() {
    try (MockApiServer api = new MockApiServer()) {
      Replica replica = new Replica(api, "epp-0");
      try {
        assertThrows(IllegalStateException.class, () -> replica.election.start(() -> {}, () -> {}));
      } finally {
        replica.election.close();
      }
    }
  }
}
