package dev.epp.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.Endpoint;
import dev.epp.examples.gateway.Gateway;
import dev.epp.examples.gateway.ModelServer;
import dev.epp.scheduler.Director;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.scheduler.EndpointPool;
import dev.epp.scheduler.PluginRegistry;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code examples/custom-plugin} jar on the classpath: {@code ServiceLoader} finds its {@code prefer-label-scorer},
 * a configuration references it by type, and requests go to the labelled endpoint.
 */
class CustomPluginTest {

  static final String CONFIG = """
      apiVersion: inference.networking.x-k8s.io/v1alpha1
      kind: EndpointPickerConfig
      plugins:
      - type: prefer-label-scorer
        parameters:
          label: gpu
      - type: queue-scorer
      - type: openai-parser
      schedulingProfiles:
      - name: default
        plugins:
        - pluginRef: prefer-label-scorer
          weight: 3
        - pluginRef: queue-scorer
      parser:
        pluginRef: openai-parser
      """;

  @Test
  void defaultRegistryFindsThePluginAndTheDirectorUsesIt() {
    assertTrue(PluginRegistry.defaultRegistry().types().contains("prefer-label-scorer"));
    EndpointPool pool = new EndpointPool();
    pool.upsert(Endpoint.of("cpu-0", "10.0.0.1", 8000));
    pool.upsert(new Endpoint("gpu-0", "10.0.0.2", 8000, Map.of("gpu", "h100")));
    pool.upsert(Endpoint.of("cpu-1", "10.0.0.3", 8000));
    Director director = Director.builder(EndpointPickerConfig.parse(CONFIG), pool).build();

    for (int i = 0; i < 5; i++) {
      String body = "{\"model\":\"m\",\"prompt\":\"request " + i + "\"}";
      assertEquals("10.0.0.2:8000",
          director.route(Map.of(), body.getBytes(StandardCharsets.UTF_8), null).destination());
    }
  }

  @Test
  void gatewayCommandLoadsItFromAConfigFile(@TempDir Path dir) throws Exception {
    try (ModelServer cpu = new ModelServer("cpu"); ModelServer gpu = new ModelServer("gpu")) {
      Path config = Files.writeString(dir.resolve("prefer-gpu.yaml"), CONFIG);
      Path pods = Files.writeString(dir.resolve("pods.txt"),
          "cpu-0 " + cpu.hostPort() + "\n" + "gpu-0 " + gpu.hostPort() + " gpu=h100\n");
      GatewayCommand command = new GatewayCommand(System.out, new PrintStream(System.err, true, StandardCharsets.UTF_8));
      CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> command.run(new String[] {
          "--in-process", "--endpoints-file", pods.toString(), "--config-file", config.toString(), "--port", "0"}));
      Gateway gateway = command.started().get(10, TimeUnit.SECONDS);
      assertNotNull(gateway);
      cpu.awaitScraped(); // an endpoint not yet scraped is not a candidate while another is fresh
      gpu.awaitScraped();

      HttpResponse<String> response = HttpClient.newHttpClient().send(
          HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.port() + "/v1/completions"))
              .timeout(Duration.ofSeconds(20))
              .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"m\",\"prompt\":\"hi\"}"))
              .build(),
          HttpResponse.BodyHandlers.ofString());

      assertEquals(200, response.statusCode(), response.body());
      assertTrue(response.body().contains("\"served_by\":\"gpu\""), response.body());
      command.stop();
      assertEquals(0, exit.get(10, TimeUnit.SECONDS));
    }
  }
}
