package dev.epp.examples.consumer.kubernetes;

import dev.epp.kubernetes.KubernetesClients;
import io.fabric8.kubernetes.client.KubernetesClient;

/** Builds a Kubernetes client from {@code $KUBECONFIG} (contacting nothing) and prints the API server it would use. */
public final class Main {

  public static void main(String[] args) {
    try (KubernetesClient client = KubernetesClients.fromEnvironment()) {
      System.out.println("api server: " + client.getMasterUrl());
    }
  }
}
