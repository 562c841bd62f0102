package dev.epp.examples.simulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.epp.api.Endpoint;
import dev.epp.discovery.FileDiscovery;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SimulatedPodsTest {

  @Test
  void theEndpointsFileLabelsEveryPodWithItsEngineTypeAndRole(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("endpoints.txt");
    try (SimulatedPods pods = new SimulatedPods(file, 0, 2, false)) {
      pods.scale(2);
      List<FileDiscovery.Problem> problems = new ArrayList<>();
      List<Endpoint> endpoints = FileDiscovery.parse(file, Files.readString(file), problems);
      assertEquals(List.of(), problems);
      assertEquals(List.of("vllm-0-rank-0", "vllm-1-rank-0"), endpoints.stream().map(Endpoint::name).toList());
      for (Endpoint endpoint : endpoints) {
        assertEquals("prefill-decode", endpoint.labels().get("llm-d.ai/role"));
        assertEquals("vllm", endpoint.labels().get("inference.networking.k8s.io/engine-type"));
      }
    }
  }

  @Test
  void disaggregatedPodsAlternatePrefillAndDecodeAndADecodePodPullsFromAPrefillPod(@TempDir Path dir)
      throws Exception {
    Path file = dir.resolve("endpoints.txt");
    try (SimulatedPods pods = new SimulatedPods(file, 0, 4, true)) {
      List<SimulatedPods.Pod> running = pods.scale(4);
      List<Endpoint> endpoints = FileDiscovery.parse(file, Files.readString(file), new ArrayList<>());
      assertEquals(List.of("prefill", "decode", "prefill", "decode"),
          endpoints.stream().map(e -> e.labels().get("llm-d.ai/role")).toList());
      HttpResponse<String> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
              URI.create("http://" + running.get(1).hostPort() + "/v1/completions"))
          .header(SimulatorServer.PREFILLER_HEADER, running.get(2).hostPort())
          .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"" + SimulatedPods.model()
              + "\",\"prompt\":\"Hello\",\"max_tokens\":2}")).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(200, response.statusCode(), response.body());
      assertEquals(running.get(2).name(), response.headers().firstValue(SimulatorServer.PREFILLED_BY_HEADER).get());
      assertEquals(running.get(1).name(), response.headers().firstValue(SimulatorServer.DECODED_BY_HEADER).get());
    }
  }

  @Test
  void withKvEventsEachPodPublishesOnItsOwnPortUnderItsOwnTopic(@TempDir Path dir) throws Exception {
    try (SimulatedPods pods = new SimulatedPods(dir.resolve("endpoints.txt"), 0, 2, false, 0);
        org.zeromq.ZContext zmq = new org.zeromq.ZContext()) {
      List<SimulatedPods.Pod> running = pods.scale(2);
      assertNotEquals(running.get(0).kvEventsPort(), running.get(1).kvEventsPort());
      org.zeromq.ZMQ.Socket subscriber = zmq.createSocket(org.zeromq.SocketType.SUB);
      subscriber.subscribe("kv@".getBytes(StandardCharsets.UTF_8));
      subscriber.setReceiveTimeOut(200);
      subscriber.connect("tcp://127.0.0.1:" + running.get(1).kvEventsPort());
      HttpClient client = HttpClient.newHttpClient();
      AtomicInteger prompts = new AtomicInteger();
      byte[][] topic = new byte[1][];
      Awaitility.await().atMost(Duration.ofSeconds(60)).pollInSameThread().until(() -> { // until subscribed
        String prompt = prompts.incrementAndGet() + " " + "x".repeat(200);
        client.send(HttpRequest.newBuilder(URI.create("http://" + running.get(1).hostPort() + "/v1/completions"))
            .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"" + SimulatedPods.model() + "\",\"prompt\":\""
                + prompt + "\",\"max_tokens\":1}")).build(), HttpResponse.BodyHandlers.discarding());
        topic[0] = subscriber.recv();
        return topic[0] != null;
      });
      assertEquals("kv@vllm-1-rank-0@" + SimulatedPods.model(), new String(topic[0], StandardCharsets.UTF_8));
    }
    try (SimulatedPods withoutEvents = new SimulatedPods(dir.resolve("e.txt"), 0, 1, false)) {
      assertEquals(-1, withoutEvents.scale(1).get(0).kvEventsPort());
    }
    assertThrows(IllegalArgumentException.class, () -> new SimulatedPods(dir.resolve("f.txt"), 0, 2, false, 65535));
  }
}
