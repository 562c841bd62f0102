package dev.epp.server;

import dev.epp.api.scheduling.Candidates;
import dev.epp.scheduler.EndpointPool;
import dev.epp.server.EppServer.Readiness;
import io.grpc.BindableService;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server's {@code grpc.health.v1.Health} answers: {@link EppServer#LIVENESS} is {@code SERVING} from construction
 * on, the other names of {@link EppServer#HEALTH_SERVICES} follow the {@link Readiness} policy on each
 * {@link #update()}, and {@link #drain()} turns them {@code NOT_SERVING} for good. A change of readiness is logged in
 * one line with its reason.
 *
 * <p><b>Threading:</b> thread-safe; an update still running when {@link #drain()} is called cannot undo it.
 */
final class HealthReporter {

  private static final Logger log = LoggerFactory.getLogger(EppServer.class);

  private final HealthStatusManager health = new HealthStatusManager();
  private final EndpointPool pool;
  private final Readiness policy;
  private final Duration stalenessThreshold;
  private final Runnable onFreshChange;
  private final boolean leaderRequired;
  private boolean leader;
  private Boolean ready;
  private Boolean anyFresh;
  private boolean drained;

  /**
   * A reporter of {@code pool}'s readiness under {@code policy}, and only while {@linkplain #leader leading} if
   * {@code leaderRequired}; {@code onFreshChange} runs whenever the pool goes from no endpoint with fresh metrics to
   * some, or back (and on the first update).
   */
  HealthReporter(EndpointPool pool, Readiness policy, Duration stalenessThreshold, boolean leaderRequired,
      Runnable onFreshChange) {
    this.pool = pool;
    this.leaderRequired = leaderRequired;
    this.policy = policy;
    this.stalenessThreshold = stalenessThreshold;
    this.onFreshChange = onFreshChange;
    for (String service : EppServer.HEALTH_SERVICES) {
      health.setStatus(service, service.equals(EppServer.LIVENESS) ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
    }
  }

  /** The health service answering for every name; other names are {@code NOT_FOUND}. */
  BindableService service() {
    return health.getHealthService();
  }

  /** Re-evaluates readiness and sets every name but {@link EppServer#LIVENESS} accordingly. */
  synchronized void update() {
    if (drained) {
      return;
    }
    int fresh = freshEndpoints();
    if (anyFresh == null || anyFresh != fresh > 0) {
      anyFresh = fresh > 0;
      onFreshChange.run();
    }
    boolean now;
    String reason;
    if (policy == Readiness.DISCOVERY_SYNCED) {
      now = true;
      reason = "endpoint discovery has synced";
    } else {
      now = fresh > 0;
      reason = now ? fresh + " endpoint(s) have fresh metrics"
          : "no endpoint has metrics fresher than " + stalenessThreshold.toMillis() + " ms";
    }
    if (leaderRequired && !leader) {
      reason = "this replica is not the leader" + (now ? "" : "; " + reason);
      now = false;
    }
    if (ready == null || ready != now) {
      ready = now;
      setReadiness(now ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
      log.info("EPP {}: {}", now ? "ready" : "not ready", reason);
    }
  }

  /** Records whether this replica leads (with an election) and re-evaluates readiness. */
  synchronized void leader(boolean value) {
    leader = value;
    update();
  }

  /** Turns every name but {@link EppServer#LIVENESS} {@code NOT_SERVING}: a draining EPP is alive, not ready. */
  synchronized void drain() {
    drained = true;
    setReadiness(ServingStatus.NOT_SERVING);
  }

  private void setReadiness(ServingStatus status) {
    for (String service : EppServer.HEALTH_SERVICES) {
      if (!service.equals(EppServer.LIVENESS)) {
        health.setStatus(service, status);
      }
    }
  }

  private int freshEndpoints() {
    Candidates snapshot = pool.snapshot();
    long now = System.nanoTime();
    long maxAge = stalenessThreshold.toNanos();
    int fresh = 0;
    for (int i = 0; i < snapshot.size(); i++) {
      if (snapshot.metrics(i).isFresh(now, maxAge)) {
        fresh++;
      }
    }
    return fresh;
  }
}
