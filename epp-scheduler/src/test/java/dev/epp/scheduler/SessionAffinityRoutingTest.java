package dev.epp.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.requestcontrol.InferenceResponse;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Session affinity through the real configuration loader and request director. */
class SessionAffinityRoutingTest {

  private static final String HEADER =
      "apiVersion: inference.networking.x-k8s.io/v1alpha1\nkind: EndpointPickerConfig\n";
  private static final byte[] BODY =
      "{\"model\":\"m\",\"prompt\":\"hello\"}".getBytes(StandardCharsets.UTF_8);

  private final EndpointPool pool = new EndpointPool();

  /** Pod {@code i} with {@code queue} waiting requests; the queue scorer prefers the shortest queue. */
  private void pod(int i, int queue) {
    String name = "pod-" + i + "-rank-0";
    pool.upsert(Endpoint.of(name, "10.0.0." + (i + 1), 8000));
    pool.updateMetrics(name, EndpointMetrics.builder().waitingQueueSize(queue).updatedNanos(System.nanoTime()).build());
  }

  private Director director(String yaml) {
    EndpointPickerConfig config = EndpointPickerConfig.loader().registry(TestPlugins.registry())
        .allowExperimentalPlugins(true)
        .parse(yaml, "t.yaml");
    return Director.builder(config, pool).build();
  }

  @Test
  void theSessionAffinityTypesAreExperimentalAsInLlmD() {
    for (String type : List.of("session-affinity-filter", "session-affinity-scorer")) {
      ConfigException e = assertThrows(ConfigException.class, () -> EndpointPickerConfig.loader()
          .registry(TestPlugins.registry())
          .parse("apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\nplugins:\n- type: " + type + "\n",
              "t.yaml"));
      assertTrue(e.getMessage().contains("--allow-experimental-plugins"), e.getMessage());
    }
  }

  private static Map<String, String> headers(String... pairs) {
    Map<String, String> headers = new HashMap<>(Map.of(":path", "/v1/completions"));
    for (int i = 0; i < pairs.length; i += 2) {
      headers.put(pairs[i], pairs[i + 1]);
    }
    return headers;
  }

  @Test
  void clientEchoingTheResponseTokenStaysOnItsPodWhileAnotherBecomesIdle() {
    pod(0, 5);
    pod(1, 0);
    pod(2, 5);
    Director director = director(HEADER + """
        plugins:
        - type: session-affinity-filter
        - type: queue-scorer
        schedulingProfiles:
        - name: default
          plugins:
          - pluginRef: session-affinity-filter
          - pluginRef: queue-scorer
        """);
    Routing first = director.route(headers(), BODY, null);
    assertEquals("10.0.0.2:8000", first.destination());
    InferenceResponse response = director.responseHeaders(first, Map.of("content-type", "application/json"));
    String token = response.headers().get("x-session-token");
    assertEquals(Base64.getEncoder().encodeToString("pod-1-rank-0".getBytes(StandardCharsets.UTF_8)), token);

    pod(1, 9);
    pod(2, 0);
    assertEquals("10.0.0.2:8000", director.route(headers("x-session-token", token), BODY, null).destination());
    assertEquals("10.0.0.3:8000", director.route(headers(), BODY, null).destination());

    for (String bad : new String[] {"not base64 at all!", Base64.getEncoder().encodeToString(new byte[] {-1, 0, 7})}) {
      Routing routing = director.route(headers("x-session-token", bad), BODY, null);
      assertEquals("10.0.0.3:8000", routing.destination(), "a bad token is scheduled normally");
      assertFalse(routing.result().isEmpty());
    }

    pool.remove("pod-1-rank-0");
    Routing moved = director.route(headers("x-session-token", token), BODY, null);
    assertEquals("10.0.0.3:8000", moved.destination(), "the session's pod left");
    assertEquals(Base64.getEncoder().encodeToString("pod-2-rank-0".getBytes(StandardCharsets.UTF_8)),
        director.responseHeaders(moved, Map.of()).headers().get("x-session-token"));
  }

  @Test
  void sessionCookieBindsTheConversationToItsFirstPod() {
    pod(0, 0);
    pod(1, 3);
    Director director = director(HEADER + """
        plugins:
        - name: sessions
          type: session-id-producer
          parameters:
            cookieName: llm-d-session
        - type: session-affinity-scorer
          parameters:
            strategy: session_id
            sessionIdConfig:
              sources:
              - attribute: SessionIDDataKey
                producer: sessions
        - type: queue-scorer
        schedulingProfiles:
        - name: default
          plugins:
          - pluginRef: session-affinity-scorer
            weight: 10
          - pluginRef: queue-scorer
        """);
    Routing first = director.route(headers("cookie", "llm-d-session=conv-7"), BODY, null);
    assertEquals("10.0.0.1:8000", first.destination());
    assertNull(director.responseHeaders(first, Map.of()).headers().get("x-session-token"));

    pod(0, 4);
    pod(1, 0);
    assertEquals("10.0.0.1:8000", director.route(headers("cookie", "a=b; llm-d-session=conv-7"), BODY, null)
        .destination());
    assertEquals("10.0.0.2:8000", director.route(headers("cookie", "llm-d-session=conv-8"), BODY, null)
        .destination());
  }
}
