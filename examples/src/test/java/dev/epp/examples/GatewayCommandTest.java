package dev.epp.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.examples.gateway.Gateway;
import dev.epp.examples.gateway.ModelServer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GatewayCommandTest {

  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();
  private final GatewayCommand command = new GatewayCommand(
      new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));

  private String err() {
    return err.toString(StandardCharsets.UTF_8);
  }

  @Test
  void helpPrintsUsage() {
    assertEquals(0, command.run(new String[] {"--help"}));
    String help = out.toString(StandardCharsets.UTF_8);
    assertTrue(help.contains("--in-process"), help);
    assertTrue(help.lines().anyMatch(l -> l.matches("  --allow-experimental-plugins +.*\\(default false\\)")), help);
    assertTrue(help.lines().anyMatch(l -> l.matches("  --upstream-connect-timeout duration .*\\(default 5s\\)")), help);
    assertTrue(help.lines().anyMatch(l -> l.matches("  --upstream-response-timeout duration .*\\(default 60s\\)")),
        help);
  }

  @Test
  void badCommandLinesExitWithTwoAndOneLine() {
    Map<List<String>, String> bad = new LinkedHashMap<>();
    bad.put(List.of("--nope"), "unknown flag --nope");
    bad.put(List.of("--port"), "flag --port needs a value");
    bad.put(List.of("--port", "70000"), "invalid value \"70000\" for --port: not in 0..65535");
    bad.put(List.of("--endpoints", "127.0.0.1:8000"),
        "--endpoints, --endpoints-file and --config-file need --in-process");
    bad.put(List.of("--allow-experimental-plugins"), "--allow-experimental-plugins needs --in-process");
    bad.put(List.of("--in-process"), "--in-process needs one of --endpoints and --endpoints-file");
    bad.put(List.of("--upstream-response-timeout", "0s"),
        "invalid value \"0s\" for --upstream-response-timeout: must be positive");
    bad.put(List.of("--in-process", "--endpoints", "127.0.0.1:8000", "--epp", "127.0.0.1:9002"),
        "--epp and --epp-tls do not apply with --in-process");
    bad.put(List.of("--in-process", "--endpoints", "127.0.0.1"),
        "invalid --endpoints entry '127.0.0.1': expected ip:port ([ipv6]:port)");
    bad.forEach((args, message) -> {
      err.reset();
      assertEquals(2, new GatewayCommand(System.out, new PrintStream(err, true, StandardCharsets.UTF_8))
          .run(args.toArray(String[]::new)), String.join(" ", args));
      assertEquals("gateway: " + message + " (see --help)" + System.lineSeparator(), err());
    });
  }

  @Test
  void invalidConfigurationExitsWithOne(@TempDir Path dir) throws Exception {
    Path config = Files.writeString(dir.resolve("bad.yaml"), "plugins:\n- type: no-such-plugin\n");
    assertEquals(1, command.run(new String[] {
        "--in-process", "--endpoints", "127.0.0.1:8000", "--config-file", config.toString(), "--port", "0"}));
    assertTrue(err().startsWith("gateway: invalid configuration: "), err());
  }

  @Test
  void experimentalPluginTypesNeedAllowExperimentalPlugins(@TempDir Path dir) throws Exception {
    Path config = Files.writeString(dir.resolve("alpha.yaml"), "apiVersion: llm-d.ai/v1alpha1\n"
        + "kind: EndpointPickerConfig\nplugins:\n- type: session-affinity-filter\n");
    assertEquals(1, command.run(new String[] {
        "--in-process", "--endpoints", "127.0.0.1:8000", "--config-file", config.toString(), "--port", "0"}));
    assertEquals("gateway: invalid configuration: " + config + ":4:3: plugins[0].type: plugin "
        + "'session-affinity-filter' (type session-affinity-filter) is experimental (Alpha); start the EPP with "
        + "--allow-experimental-plugins to use it" + System.lineSeparator(), err());

    err.reset();
    GatewayCommand allowed = new GatewayCommand(System.out, new PrintStream(err, true, StandardCharsets.UTF_8));
    CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> allowed.run(new String[] {"--in-process",
        "--endpoints", "127.0.0.1:8000", "--config-file", config.toString(), "--allow-experimental-plugins",
        "--port", "0"}));
    try {
      assertNotNull(allowed.started().get(10, TimeUnit.SECONDS), err());
    } finally {
      allowed.stop();
    }
    assertEquals(0, exit.get(10, TimeUnit.SECONDS));
    assertEquals("", err());
  }

  @Test
  void inProcessGatewayServesUntilStopped() throws Exception {
    try (ModelServer server = new ModelServer("pod")) {
      CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> command.run(new String[] {
          "--in-process", "--endpoints", server.hostPort(), "--port", "0"}));
      Gateway gateway = command.started().get(10, TimeUnit.SECONDS);
      assertNotNull(gateway, err());

      HttpResponse<String> response = HttpClient.newHttpClient().send(
          HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.port() + "/v1/completions"))
              .timeout(Duration.ofSeconds(20))
              .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"m\",\"prompt\":\"hi\"}"))
              .build(),
          HttpResponse.BodyHandlers.ofString());

      assertEquals(200, response.statusCode(), response.body());
      assertTrue(response.body().contains("\"served_by\":\"pod\""), response.body());
      command.stop();
      assertEquals(0, exit.get(10, TimeUnit.SECONDS));
    }
  }
}
