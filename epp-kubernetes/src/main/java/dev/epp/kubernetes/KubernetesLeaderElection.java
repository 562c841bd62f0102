package dev.epp.kubernetes;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderCallbacks;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderElectionConfig;
import io.fabric8.kubernetes.client.extended.leaderelection.resourcelock.LeaseLock;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Go EPP's leader election ({@code --ha-enable-leader-election}): replicas campaign for a Kubernetes
 * {@code Lease} with fabric8's {@code LeaderElector}, with controller-runtime's timings (lease 15 s, renew deadline
 * 10 s, retry every 2 s). The leader gives the lease up when closed, so another replica takes over within a retry
 * period rather than a lease duration. A replica that loses the lease (it could not renew it in time) campaigns again.
 *
 * <p><b>Threading:</b> thread-safe; the callbacks run on the client's executor, one at a time.
 */
public final class KubernetesLeaderElection implements AutoCloseable {

  /** controller-runtime's defaults, which the Go EPP keeps. */
  public static final Duration LEASE_DURATION = Duration.ofSeconds(15);
  /** How long a leader keeps trying to renew before it gives up leadership. */
  public static final Duration RENEW_DEADLINE = Duration.ofSeconds(10);
  /** How often a candidate tries to acquire, and a leader to renew. */
  public static final Duration RETRY_PERIOD = Duration.ofSeconds(2);

  private static final Logger log = LoggerFactory.getLogger(KubernetesLeaderElection.class);

  private final KubernetesClient client;
  private final String namespace;
  private final String leaseName;
  private final String identity;
  private final Duration leaseDuration;
  private final Duration renewDeadline;
  private final Duration retryPeriod;
  private Runnable onLeading;
  private Runnable onLost;
  private CompletableFuture<?> campaign;
  private boolean closed;

  /**
   * An election for the lease {@code leaseName} in {@code namespace}, with controller-runtime's timings.
   *
   * @param identity this replica's name in the lease (the Go EPP's is its pod name)
   */
  public KubernetesLeaderElection(KubernetesClient client, String namespace, String leaseName, String identity) {
    this(client, namespace, leaseName, identity, LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD);
  }

  /** An election with other timings; {@code renewDeadline} must be below {@code leaseDuration}. */
  public KubernetesLeaderElection(KubernetesClient client, String namespace, String leaseName, String identity,
      Duration leaseDuration, Duration renewDeadline, Duration retryPeriod) {
    this.client = Objects.requireNonNull(client, "client");
    this.namespace = Objects.requireNonNull(namespace, "namespace");
    this.leaseName = Objects.requireNonNull(leaseName, "leaseName");
    this.identity = Objects.requireNonNull(identity, "identity");
    if (renewDeadline.compareTo(leaseDuration) >= 0) {
      throw new IllegalArgumentException("renew deadline " + renewDeadline + " must be below the lease duration "
          + leaseDuration);
    }
    this.leaseDuration = leaseDuration;
    this.renewDeadline = renewDeadline;
    this.retryPeriod = retryPeriod;
  }

  /**
   * The Go EPP's lease name for a pool: {@code epp-<namespace>-<pool>.gateway-api-inference-extension.sigs.k8s.io}.
   */
  public static String leaseName(String namespace, String poolName) {
    return "epp-" + namespace + "-" + poolName + ".gateway-api-inference-extension.sigs.k8s.io";
  }

  /**
   * Starts campaigning on the client's threads; {@code onLeading} runs each time this replica becomes the leader,
   * {@code onLost} each time it stops being it (also when {@link #close closed} while leading).
   *
   * @throws IllegalStateException if already started or closed
   */
  public synchronized void start(Runnable onLeading, Runnable onLost) {
    if (campaign != null || closed) {
      throw new IllegalStateException(closed ? "closed" : "already started");
    }
    this.onLeading = Objects.requireNonNull(onLeading, "onLeading");
    this.onLost = Objects.requireNonNull(onLost, "onLost");
    campaign();
  }

  private synchronized void campaign() {
    if (closed) {
      return;
    }
    LeaderCallbacks callbacks = new LeaderCallbacks(
        () -> {
          log.info("Leading: this replica ({}) holds lease {}/{}", identity, namespace, leaseName);
          onLeading.run();
        },
        () -> {
          log.info("No longer leading: this replica ({}) gave up or lost lease {}/{}", identity, namespace, leaseName);
          onLost.run();
        },
        leader -> {
          if (leader != null && !leader.isEmpty()) { // fabric8 reports a released lease as a null leader
            log.info("Lease {}/{} is held by {}", namespace, leaseName, leader);
          }
        });
    LeaderElectionConfig config = new LeaderElectionConfig(new LeaseLock(namespace, leaseName, identity),
        leaseDuration, renewDeadline, retryPeriod, callbacks, true, leaseName);
    campaign = client.leaderElector().withConfig(config).build().start();
    campaign.whenComplete((ignored, error) -> campaign());
  }

  /** Stops campaigning and gives the lease up if this replica holds it. Idempotent. */
  @Override
  public synchronized void close() {
    closed = true;
    if (campaign != null) {
      campaign.cancel(true);
    }
  }
}
