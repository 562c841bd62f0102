package dev.epp.kubernetes;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;

/**
 * Kubernetes clients configured to fail fast: a 5 s connection timeout and one retry, so that
 * {@link KubernetesDiscovery#start}, {@link KubernetesObjectives#start} and {@link KubernetesModelRewrites#start}
 * report an unreachable API server within seconds, with a message naming it. Informers retry on their own after start.
 *
 * <p><b>Threading:</b> the clients are thread-safe; the caller closes them.
 */
public final class KubernetesClients {

  private KubernetesClients() {}

  /**
   * A client for the cluster this process runs in (its service account) or, outside a cluster, the current context
   * of {@code $KUBECONFIG} or {@code ~/.kube/config}. Nothing is contacted until the client is used.
   */
  public static KubernetesClient fromEnvironment() {
    return create(Config.autoConfigure(null));
  }

  /** A client for {@code config}, with the fail-fast timeouts applied. */
  public static KubernetesClient create(Config config) {
    Config failFast = new ConfigBuilder(config)
        .withConnectionTimeout(5_000)
        .withRequestRetryBackoffLimit(1)
        .build();
    return new KubernetesClientBuilder().withConfig(failFast).build();
  }
}
