package dev.epp.server;

/**
 * Which of several replicas of a pool is active, as with the Go EPP's {@code --ha-enable-leader-election}: with an
 * election, readiness (every health name but {@code liveness}) is {@code SERVING} only on the leader, so a gateway
 * routes through one replica while the others stand by, discovering and scraping so that they can take over at once.
 * {@code dev.epp.kubernetes.KubernetesLeaderElection} implements it with a Kubernetes {@code Lease}.
 */
public interface LeaderElection extends AutoCloseable {

  /**
   * Starts campaigning; {@code onLeading} runs each time this replica becomes the leader, {@code onLost} each time it
   * stops being it. Called once.
   */
  void start(Runnable onLeading, Runnable onLost);

  /** Stops campaigning and gives leadership up if held, so that another replica takes over. Idempotent. */
  @Override
  void close();
}
