package dev.epp.examples.simulator;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.epp.api.Endpoint;
import dev.epp.discovery.FileDiscovery;
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
    try (SimulatedPods pods = new SimulatedPods(file, 0, 2)) {
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
}
