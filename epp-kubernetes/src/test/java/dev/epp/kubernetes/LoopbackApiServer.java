package dev.epp.kubernetes;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A small Kubernetes API server on loopback (a JDK HTTP server) that can lose its watches on cue, which fabric8's mock
 * server cannot do without stalling. It serves list and watch of namespaced objects from memory (equality label
 * selectors and the {@code metadata.name} field selector), and keeps every change as an event with a resource version,
 * so a watch resumes from its resource version as on a real API server. Watches are HTTP streams of one JSON event per
 * line; the client it {@linkplain #client() makes} uses them only. (Production clients try WebSocket first; the
 * informer's list, watch and reconnect logic above the transport is the same.)
 *
 * <p>{@link #loseWatches()} ends every open watch and holds the watch requests that follow, so no change made then can
 * reach the client as a watch event. {@link #restoreWatches(boolean)} answers them: with the history kept, a watch
 * replays the events it missed; without it (as after etcd compaction), a watch from an older version gets an
 * {@code ERROR} event with status 410 Gone, after which the informer must list again.
 *
 * <p><b>Threading:</b> thread-safe; one lock guards the objects, the history and the open watches.
 */
final class LoopbackApiServer implements AutoCloseable {

  private static final ObjectMapper JSON = Serialization.jsonMapper();
  private static final String GONE = "{\"type\":\"ERROR\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Status\","
      + "\"status\":\"Failure\",\"reason\":\"Expired\",\"code\":410,\"message\":\"too old resource version\"}}";

  /** A change: {@code previous} is null for an addition, {@code current} null for a deletion. */
  private record Event(long version, String collection, ObjectNode previous, ObjectNode current) {}

  /** An open watch of {@code collection}. */
  private record Watch(HttpExchange exchange, String collection, Map<String, String> labels, String name) {}

  /** A watch request held while watches are lost. */
  private record Held(HttpExchange exchange, Map<String, String> query) {}

  private final Object lock = new Object();
  private final Map<String, ObjectNode> objects = new LinkedHashMap<>(); // by collection path + "/" + name
  private final List<Event> history = new ArrayList<>();
  private final List<Watch> watches = new ArrayList<>();
  private final List<Held> held = new ArrayList<>();
  private final Map<String, Integer> lists = new HashMap<>();
  private long version;
  private long oldestWatchable;
  private boolean lost;
  private int gone;
  private int replayed;

  private final ExecutorService executor = Executors.newCachedThreadPool(r -> {
    Thread thread = new Thread(r, "loopback-api-server");
    thread.setDaemon(true);
    return thread;
  });
  private final HttpServer server;
  private final KubernetesClient client;

  LoopbackApiServer() {
    try {
      server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    server.setExecutor(executor);
    server.createContext("/", this::handle);
    server.start();
    Config config = new ConfigBuilder(Config.empty())
        .withMasterUrl("http://127.0.0.1:" + server.getAddress().getPort())
        .withNamespace(Fixtures.NS)
        .withOnlyHttpWatches(true)
        .withWatchReconnectInterval(50)
        .build();
    client = new KubernetesClientBuilder().withConfig(config).build();
  }

  /** A client of this server; closed by {@link #close()}. */
  KubernetesClient client() {
    return client;
  }

  /** Creates or replaces {@code object} (namespaced, with a name), giving it the next resource version. */
  void put(HasMetadata object) {
    ObjectNode node = JSON.valueToTree(object);
    synchronized (lock) {
      metadata(node).put("resourceVersion", Long.toString(++version));
      String key = collection(node) + "/" + name(node);
      ObjectNode previous = objects.put(key, node);
      record(new Event(version, collection(node), previous, node));
    }
  }

  /** Deletes {@code object} (found by its kind, namespace and name), giving the deletion the next resource version. */
  void delete(HasMetadata object) {
    ObjectNode node = JSON.valueToTree(object);
    synchronized (lock) {
      ObjectNode previous = objects.remove(collection(node) + "/" + name(node));
      if (previous == null) {
        throw new IllegalArgumentException("no such object: " + collection(node) + "/" + name(node));
      }
      record(new Event(++version, collection(node), previous, null));
    }
  }

  /** Ends the open watches and holds new watch requests until {@link #restoreWatches}. Lists are still served. */
  void loseWatches() {
    synchronized (lock) {
      lost = true;
      for (Watch watch : watches) {
        watch.exchange().close();
      }
      watches.clear();
    }
  }

  /**
   * Answers the held watch requests and serves watches again.
   *
   * @param historyKept whether a watch from before now replays the events it missed; if not, it gets 410 Gone
   */
  void restoreWatches(boolean historyKept) {
    synchronized (lock) {
      lost = false;
      if (!historyKept) {
        oldestWatchable = version;
      }
      for (Held request : held) {
        watch(request.exchange(), request.query());
      }
      held.clear();
    }
  }

  /** How many watch requests are held. */
  int heldWatches() {
    synchronized (lock) {
      return held.size();
    }
  }

  /** How many watches were answered with 410 Gone. */
  int goneWatches() {
    synchronized (lock) {
      return gone;
    }
  }

  /** How many missed events watches replayed. */
  int replayedEvents() {
    synchronized (lock) {
      return replayed;
    }
  }

  /** How many times the objects of {@code plural} (e.g. {@code pods}) were listed. */
  int lists(String plural) {
    synchronized (lock) {
      return lists.entrySet().stream().filter(e -> e.getKey().endsWith("/" + plural)).mapToInt(Map.Entry::getValue).sum();
    }
  }

  @Override
  public void close() {
    client.close();
    server.stop(0);
    executor.shutdownNow();
  }

  // ---- requests

  private void handle(HttpExchange exchange) {
    try {
      Map<String, String> query = query(exchange.getRequestURI().getRawQuery());
      String path = exchange.getRequestURI().getPath();
      if (!"GET".equals(exchange.getRequestMethod()) || !path.matches("/api/v1/namespaces/[^/]+/[^/]+"
          + "|/apis/[^/]+/[^/]+/namespaces/[^/]+/[^/]+")) {
        respond(exchange, 404, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"code\":404,"
            + "\"message\":\"this test server serves GET of namespaced collections only\"}");
        return;
      }
      synchronized (lock) {
        if (!"true".equals(query.get("watch"))) {
          list(exchange, path, query);
        } else if (lost) {
          held.add(new Held(exchange, query));
        } else {
          watch(exchange, query);
        }
      }
    } catch (IOException | RuntimeException e) {
      exchange.close();
    }
  }

  /** Holds {@link #lock}. */
  private void list(HttpExchange exchange, String path, Map<String, String> query) throws IOException {
    lists.merge(path, 1, Integer::sum);
    Map<String, String> labels = selector(query.get("labelSelector"));
    String name = name(query.get("fieldSelector"));
    ObjectNode list = JSON.createObjectNode();
    list.put("apiVersion", path.startsWith("/api/v1/") ? "v1" : path.split("/")[2] + "/" + path.split("/")[3]);
    list.put("kind", "List");
    list.putObject("metadata").put("resourceVersion", Long.toString(version));
    var items = list.putArray("items");
    for (Map.Entry<String, ObjectNode> e : objects.entrySet()) {
      if (e.getKey().startsWith(path + "/") && matches(e.getValue(), labels, name)) {
        items.add(e.getValue());
        list.put("kind", e.getValue().path("kind").asString() + "List");
      }
    }
    respond(exchange, 200, JSON.writeValueAsString(list));
  }

  /** Opens a watch from the query's resource version: replays the events after it, then follows. Holds {@link #lock}. */
  private void watch(HttpExchange exchange, Map<String, String> query) {
    String collection = exchange.getRequestURI().getPath();
    long from = Long.parseLong(query.getOrDefault("resourceVersion", Long.toString(version)));
    Watch watch = new Watch(exchange, collection, selector(query.get("labelSelector")), name(query.get("fieldSelector")));
    try {
      exchange.getResponseHeaders().set("Content-Type", "application/json");
      exchange.sendResponseHeaders(200, 0);
      if (from < oldestWatchable) {
        gone++;
        send(exchange, GONE);
        exchange.close();
        return;
      }
      for (Event event : history) {
        if (event.version() > from && send(watch, event)) {
          replayed++;
        }
      }
      watches.add(watch);
    } catch (IOException e) {
      exchange.close();
    }
  }

  /** Keeps {@code event} and sends it to the watches it concerns. Holds {@link #lock}. */
  private void record(Event event) {
    history.add(event);
    for (Iterator<Watch> it = watches.iterator(); it.hasNext(); ) {
      Watch watch = it.next();
      try {
        send(watch, event);
      } catch (IOException e) { // the client went away
        watch.exchange().close();
        it.remove();
      }
    }
  }

  /**
   * Sends {@code event} as the watch sees it: a change that makes an object match its selectors is {@code ADDED}, one
   * that makes it stop matching is {@code DELETED}. Holds {@link #lock}.
   *
   * @return whether the event concerned the watch
   */
  private static boolean send(Watch watch, Event event) throws IOException {
    if (!watch.collection().equals(event.collection())) {
      return false;
    }
    boolean before = event.previous() != null && matches(event.previous(), watch.labels(), watch.name());
    boolean after = event.current() != null && matches(event.current(), watch.labels(), watch.name());
    ObjectNode object;
    String type;
    if (after) {
      type = before ? "MODIFIED" : "ADDED";
      object = event.current();
    } else if (before) {
      type = "DELETED";
      object = event.previous().deepCopy();
      metadata(object).put("resourceVersion", Long.toString(event.version()));
    } else {
      return false;
    }
    ObjectNode line = JSON.createObjectNode();
    line.put("type", type);
    line.set("object", object);
    send(watch.exchange(), JSON.writeValueAsString(line));
    return true;
  }

  private static void send(HttpExchange exchange, String line) throws IOException {
    OutputStream body = exchange.getResponseBody();
    body.write((line + "\n").getBytes(StandardCharsets.UTF_8));
    body.flush();
  }

  private static void respond(HttpExchange exchange, int status, String json) throws IOException {
    byte[] body = json.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", "application/json");
    exchange.sendResponseHeaders(status, body.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(body);
    }
  }

  // ---- objects and selectors

  /** The collection path of an object, e.g. {@code /api/v1/namespaces/llm/pods}. */
  private static String collection(JsonNode object) {
    String apiVersion = object.path("apiVersion").asString();
    String namespace = object.path("metadata").path("namespace").asString(Fixtures.NS);
    String plural = object.path("kind").asString().toLowerCase(Locale.ROOT) + "s";
    return ("v1".equals(apiVersion) ? "/api/v1" : "/apis/" + apiVersion) + "/namespaces/" + namespace + "/" + plural;
  }

  private static ObjectNode metadata(ObjectNode object) {
    return (ObjectNode) object.get("metadata");
  }

  private static String name(JsonNode object) {
    return object.path("metadata").path("name").asString();
  }

  private static boolean matches(JsonNode object, Map<String, String> labels, String name) {
    if (name != null && !name.equals(name(object))) {
      return false;
    }
    JsonNode actual = object.path("metadata").path("labels");
    for (Map.Entry<String, String> e : labels.entrySet()) {
      if (!e.getValue().equals(actual.path(e.getKey()).asString(null))) {
        return false;
      }
    }
    return true;
  }

  /** An equality label selector, {@code k=v[,k=v...]}. */
  private static Map<String, String> selector(String text) {
    Map<String, String> labels = new LinkedHashMap<>();
    if (text != null && !text.isEmpty()) {
      for (String item : text.split(",")) {
        String[] kv = item.split("==?", 2);
        if (kv.length != 2 || kv[0].endsWith("!")) {
          throw new IllegalArgumentException("unsupported label selector: " + text);
        }
        labels.put(kv[0], kv[1]);
      }
    }
    return labels;
  }

  /** The name a {@code metadata.name=<name>} field selector selects, or null without one. */
  private static String name(String fieldSelector) {
    if (fieldSelector == null || fieldSelector.isEmpty()) {
      return null;
    }
    if (!fieldSelector.startsWith("metadata.name=")) {
      throw new IllegalArgumentException("unsupported field selector: " + fieldSelector);
    }
    return fieldSelector.substring("metadata.name=".length());
  }

  private static Map<String, String> query(String raw) {
    Map<String, String> query = new HashMap<>();
    if (raw != null) {
      for (String pair : raw.split("&")) {
        int eq = pair.indexOf('=');
        String key = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
        query.put(key, eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
      }
    }
    return query;
  }
}
