package dev.epp.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EmbeddedGatewayTest {

  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  private int run(String... args) {
    return EmbeddedGateway.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
  }

  private List<String> lines() {
    return out.toString(StandardCharsets.UTF_8).lines().toList();
  }

  @Test
  void routesEveryRequestAndStartsWithTheIdlePod() {
    assertEquals(0, run("--requests", "6"));
    List<String> lines = lines();
    assertEquals(6, lines.size());
    assertTrue(lines.get(0).startsWith("req-0 -> 127.0.0.1:8000 (vllm-0-rank-0)"), lines.get(0));
    // the most loaded pod (queue 4) is never chosen while others have shorter queues
    assertTrue(lines.stream().limit(3).noneMatch(l -> l.contains("-> 127.0.0.3:8000")), lines.toString());
  }

  @Test
  void usesAConfigFile(@TempDir Path dir) throws Exception {
    Path config = dir.resolve("random.yaml");
    Files.writeString(config, """
        apiVersion: inference.networking.x-k8s.io/v1alpha1
        kind: EndpointPickerConfig
        plugins:
        - type: header-based-testing-filter
        """);
    assertEquals(0, run("--config-file", config.toString(), "--requests", "2"));
    // the header filter keeps nobody without its header, so every request is rejected with 429's code
    assertTrue(lines().stream().allMatch(l -> l.contains("rejected: ResourceExhausted")), lines().toString());
  }

  @Test
  void badInputIsOneLineAndANonZeroExit(@TempDir Path dir) throws Exception {
    assertEquals(2, run("--requests"));
    assertEquals(2, run("--bogus", "1"));
    Path config = dir.resolve("bad.yaml");
    Files.writeString(config, "apiVersion: v1\nkind: EndpointPickerConfig\n");
    assertEquals(1, run("--config-file", config.toString()));
    List<String> errors = err.toString(StandardCharsets.UTF_8).lines().toList();
    assertEquals(3, errors.size(), errors.toString());
    assertTrue(errors.get(2).startsWith("invalid configuration: " + config + ":1:1: apiVersion"), errors.get(2));
  }
}
