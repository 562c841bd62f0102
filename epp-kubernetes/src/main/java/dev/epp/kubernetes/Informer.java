package dev.epp.kubernetes;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ListOptionsBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One started fabric8 informer whose every event (and its initial sync) runs one callback; the callback reads the
 * informer's cache with {@link #items()} rather than the event, so a relist after a lost watch needs no special case.
 *
 * <p>The informer retries forever after start (logging each failure), as the Go EPP's controllers do; the first
 * list is checked beforehand with {@link #check}, which turns an unreachable or forbidden API server into one clear
 * error.
 *
 * <p><b>Threading:</b> the callback runs on fabric8's informer threads; it must be thread-safe and quick.
 */
final class Informer<T extends HasMetadata> implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(Informer.class);

  /** How long {@link #awaitSynced} waits for the first list. */
  static final Duration SYNC_TIMEOUT = Duration.ofSeconds(30);

  private final String what;
  private final SharedIndexInformer<T> informer;
  private final CompletableFuture<Void> synced;

  private Informer(String what, SharedIndexInformer<T> informer, Runnable onChange) {
    this.what = what;
    this.informer = informer;
    informer.exceptionHandler((started, t) -> {
      log.warn("Watching {} failed; retrying: {}", what, t.toString());
      return true;
    });
    informer.addEventHandler(new ResourceEventHandler<T>() {
      @Override
      public void onAdd(T obj) {
        onChange.run();
      }

      @Override
      public void onUpdate(T oldObj, T newObj) {
        onChange.run();
      }

      @Override
      public void onDelete(T obj, boolean deletedFinalStateUnknown) {
        onChange.run();
      }
    });
    this.synced = informer.start().toCompletableFuture();
    synced.thenRunAsync(onChange); // off the HTTP client's event loop
  }

  /**
   * Starts {@code informer} (created with {@code runnableInformer}, not yet started); {@code onChange} runs after each
   * event and once after the first list.
   *
   * @param what names the watched objects in log lines and errors, e.g. {@code pods app=vllm in default}
   */
  static <T extends HasMetadata> Informer<T> start(String what, SharedIndexInformer<T> informer, Runnable onChange) {
    return new Informer<>(what, informer, onChange);
  }

  /**
   * Watches the custom resources {@code resource} in {@code namespace} and returns once they are listed. When the API
   * server does not serve the resource (its CRD is not installed), logs {@code ifAbsent} and keeps waiting for it.
   *
   * @param onChange runs after each event and once after the first list
   * @throws IllegalStateException if the API server is unreachable, refuses the list, or the first list times out
   */
  static Informer<GenericKubernetesResource> startCustomResources(KubernetesClient client,
      ResourceDefinitionContext resource, String namespace, Runnable onChange, String ifAbsent) {
    var resources = client.genericKubernetesResources(resource).inNamespace(namespace);
    String what = resource.getKind() + "s in " + namespace;
    boolean served = check(client, what, () -> resources.list(new ListOptionsBuilder().withLimit(1L).build()));
    Informer<GenericKubernetesResource> informer = start(what, resources.runnableInformer(0), onChange);
    if (served) {
      try {
        informer.awaitSynced();
      } catch (RuntimeException e) {
        informer.close();
        throw e;
      }
    } else {
      log.warn("The API server does not serve {} (is the CRD installed?); {}", what, ifAbsent);
    }
    return informer;
  }

  /**
   * Runs {@code list} (a one-item list of what an informer will watch) and turns a failure into a clear error.
   *
   * @return {@code false} if the API server does not serve the resource (HTTP 404: its CRD is not installed)
   * @throws IllegalStateException if the API server is unreachable or refuses the request; the message names the
   *     server, the resource and the cause
   */
  static boolean check(KubernetesClient client, String what, Runnable list) {
    try {
      list.run();
      return true;
    } catch (KubernetesClientException e) {
      if (e.getCode() == 404) {
        return false;
      }
      String hint = switch (e.getCode()) {
        case 0 -> " (no cluster reachable: check the kubeconfig or the in-cluster service account)";
        case 401, 403 -> " (check the service account's RBAC: get, list and watch are needed)";
        default -> "";
      };
      throw new IllegalStateException("Cannot list " + what + " from the Kubernetes API server "
          + client.getConfiguration().getMasterUrl() + ": " + rootMessage(e) + hint, e);
    }
  }

  /** Whether the first list has completed. */
  boolean synced() {
    return synced.isDone() && !synced.isCompletedExceptionally();
  }

  /** Completes when the first list has completed. */
  CompletableFuture<Void> whenSynced() {
    return synced;
  }

  /**
   * Waits up to {@link #SYNC_TIMEOUT} for the first list.
   *
   * @throws IllegalStateException if it did not complete in time or failed
   */
  void awaitSynced() {
    try {
      synced.get(SYNC_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw new IllegalStateException("Timed out after " + SYNC_TIMEOUT.toSeconds() + " s listing " + what, e);
    } catch (ExecutionException e) {
      throw new IllegalStateException("Cannot list " + what + ": " + rootMessage(e.getCause()), e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("Interrupted while listing " + what, e);
    }
  }

  /** The informer's cache: the current objects. */
  List<T> items() {
    return informer.getStore().list();
  }

  /** Stops the informer. A callback already under way may still finish; callers guard their state. Idempotent. */
  @Override
  public void close() {
    informer.stop();
  }

  private static String rootMessage(Throwable t) {
    Throwable root = t;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String message = t.getMessage();
    return root == t || message == null ? String.valueOf(message) : message + " (" + root + ")";
  }
}
