package dev.epp.kubernetes;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.Response;
import io.fabric8.mockwebserver.http.WebSocket;
import io.fabric8.mockwebserver.http.WebSocketListener;
import java.util.HashMap;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * fabric8's mock API server in CRUD mode (what {@code @EnableKubernetesMockClient(crud = true)} builds), with a
 * dispatcher that works around a deadlock in it: the mock's watch listener blocks the server's event loop in
 * {@code onClosed} until its sender thread ends, while that thread may be waiting for the event loop to finish a write,
 * which stalls the server when a client closes a watch while an event is being sent. The closing callbacks run on
 * another thread. Watches lost on the server's side are tested against {@link LoopbackApiServer}.
 */
public final class MockApiServer implements AutoCloseable {

  private final Set<WebSocket> openWatches = ConcurrentHashMap.newKeySet();

  public final KubernetesMockServer server;
  public final KubernetesClient client;

  public MockApiServer() {
    server = new KubernetesMockServer(
        new Context(Serialization.jsonMapper()), new MockWebServer(), new HashMap<>(), new Dispatcher(), true);
    server.init();
    Fixtures.serveCustomResources(server);
    client = server.createClient(b -> b.editOrNewConfig().withWatchReconnectInterval(50).endConfig());
  }

  /** How many watches are open now: a closed watch counts until the mock has stopped sending events to it. */
  int openWatches() {
    return openWatches.size();
  }

  @Override
  public void close() {
    client.close();
    server.destroy();
  }

  private final class Dispatcher extends KubernetesCrudDispatcher {

    @Override
    public MockResponse handleWatch(String path) {
      MockResponse response = super.handleWatch(path);
      return response.withWebSocketUpgrade(new Guard(response.getWebSocketListener()));
    }
  }

  /** Delegates to the mock's watch listener, tracking the socket and closing off the event loop. */
  private final class Guard extends WebSocketListener {
    private final WebSocketListener delegate;

    Guard(WebSocketListener delegate) {
      this.delegate = delegate;
    }

    @Override
    public void onBeforeAccept(WebSocket webSocket, Response response) {
      delegate.onBeforeAccept(webSocket, response);
    }

    @Override
    public void onOpen(WebSocket webSocket, Response response) {
      openWatches.add(webSocket);
      delegate.onOpen(webSocket, response);
    }

    @Override
    public void onMessage(WebSocket webSocket, String text) {
      delegate.onMessage(webSocket, text);
    }

    @Override
    public void onClosing(WebSocket webSocket, int code, String reason) {
      delegate.onClosing(webSocket, code, reason);
    }

    @Override
    public void onClosed(WebSocket webSocket, int code, String reason) {
      CompletableFuture.runAsync(() -> {
        delegate.onClosed(webSocket, code, reason);
        openWatches.remove(webSocket);
      });
    }

    @Override
    public void onFailure(WebSocket webSocket, Throwable error, Response response) {
      CompletableFuture.runAsync(() -> {
        delegate.onFailure(webSocket, error, response);
        openWatches.remove(webSocket);
      });
    }
  }
}
