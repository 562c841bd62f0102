package dev.epp.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.InferenceException;
import dev.epp.api.requestcontrol.Objectives;
import dev.epp.scheduler.plugins.load.InFlightLoadProducer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** In-flight load counted through the real {@link Director}: routing, response end, abort and the detector. */
class InFlightLoadRoutingTest {

  private static final String CONFIG = """
      apiVersion: inference.networking.x-k8s.io/v1alpha1
      kind: EndpointPickerConfig
      plugins:
      - type: inflight-load-producer
      - type: token-load-scorer
      - type: concurrency-detector
        parameters:
          maxConcurrency: 1
      - type: openai-parser
      schedulingProfiles:
      - name: default
        plugins:
        - pluginRef: token-load-scorer
      saturationDetector:
        pluginRef: concurrency-detector
      parser:
        pluginRef: openai-parser
      """;

  private final EndpointPool pool = new EndpointPool();
  private final EndpointPickerConfig config =
      EndpointPickerConfig.loader().registry(TestPlugins.registry()).parse(CONFIG, "test.yaml");
  private final Director director;
  private final InFlightLoadProducer producer;
  private final Endpoint pod = Endpoint.of("pod-0", "10.0.0.1", 8000);

  InFlightLoadRoutingTest() {
    pool.upsert(pod);
    pool.updateMetrics(pod.name(), EndpointMetrics.builder().updatedNanos(System.nanoTime()).build());
    director = Director.builder(config, pool).build();
    producer = (InFlightLoadProducer) config.plugin(InFlightLoadProducer.TYPE).orElseThrow();
  }

  /** A request with a 40-character prompt: 10 estimated tokens. */
  private Routing route() {
    String body = "{\"model\":\"m\",\"prompt\":\"" + "x".repeat(40) + "\"}";
    return director.route(Map.of(":path", "/v1/completions"), body.getBytes(StandardCharsets.UTF_8), null);
  }

  @Test
  void anAbortedExchangeReleasesItsLoad() {
    Routing routing = route();
    assertEquals(1, producer.requests(pod));
    assertEquals(10, producer.tokens(pod));
    director.finish(routing);
    assertEquals(0, producer.requests(pod));
    assertEquals(0, producer.tokens(pod));
  }

  @Test
  void aCompletedResponseReleasesItsLoadOnce() {
    Routing routing = route();
    director.responseHeaders(routing, Map.of(":status", "200"));
    director.responseBody(routing, "{}".getBytes(StandardCharsets.UTF_8), true);
    director.finish(routing);
    assertEquals(0, producer.requests(pod));
    assertEquals(0, producer.tokens(pod));
  }

  @Test
  void theConcurrencyDetectorShedsSheddableRequestsWhileThePoolIsFull() {
    Director withObjectives = Director.builder(config, pool).objectives(Objectives.of(Map.of("batch", -1))).build();
    Routing held = withObjectives.route(Map.of(":path", "/v1/completions"),
        "{\"model\":\"m\",\"prompt\":\"p\"}".getBytes(StandardCharsets.UTF_8), null);
    InferenceException shed = assertThrows(InferenceException.class,
        () -> withObjectives.route(Map.of(":path", "/v1/completions", Director.OBJECTIVE_HEADER, "batch"),
            "{\"model\":\"m\",\"prompt\":\"p\"}".getBytes(StandardCharsets.UTF_8), null));
    assertTrue(shed.getMessage().contains("saturated"), shed.getMessage());
    withObjectives.finish(held);
    withObjectives.finish(withObjectives.route(Map.of(":path", "/v1/completions", Director.OBJECTIVE_HEADER, "batch"),
        "{\"model\":\"m\",\"prompt\":\"p\"}".getBytes(StandardCharsets.UTF_8), null));
    assertEquals(0, producer.requests(pod));
  }
}
