package dev.epp.examples.simulator;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.epp.api.Endpoint;
import dev.epp.discovery.FileDiscovery;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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
}
