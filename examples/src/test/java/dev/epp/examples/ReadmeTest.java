package dev.epp.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.examples.gateway.Gateway;
import dev.epp.examples.gateway.ModelServer;
import dev.epp.examples.simulator.RoutingBench;
import dev.epp.examples.simulator.SimulatorCommand;
import dev.epp.server.EppServer;
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
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The README's sections on the commands, against the commands. */
class ReadmeTest {

  private static final String JAR = "java -jar examples/target/epp-examples.jar ";
  /** {@code --a-b/-c/-d}, the README's short form of {@code --a-b --a-c --a-d}. */
  private static final Pattern FLAG_FAMILY = Pattern.compile("--((?:[a-z0-9]+-)+)[a-z0-9]+((?:/-[a-z0-9-]+)+)");

  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  @Test
  void serverAndGatewayCommandsRouteARequestAsWritten() throws Exception {
    String serverSection = section("Running the EPP server");
    String gatewaySection = section("Gateway");
    List<String> serverArgs = new ArrayList<>(command(serverSection, "server"));
    List<String> gatewayArgs = new ArrayList<>(command(gatewaySection, "gateway"));
    // the model server the README starts (simulator) and the ports it uses are replaced by free ones
    assertTrue(serverArgs.contains("127.0.0.1:8000"), "the README's server routes to a local model server: "
        + serverArgs);
    assertTrue(gatewayArgs.contains("127.0.0.1:9002"), "the README's gateway uses the server's port: " + gatewayArgs);
    Matcher curl = Pattern.compile("curl -i localhost:8080(/\\S+) -d '([^']+)'").matcher(gatewaySection);
    assertTrue(curl.find(), gatewaySection);

    try (ModelServer model = new ModelServer("readme")) {
      serverArgs.replaceAll(arg -> arg.equals("127.0.0.1:8000") ? model.hostPort() : arg);
      serverArgs.addAll(List.of("--grpc-port=0", "--grpc-health-port=0", "--metrics-port=0"));
      ServerCommand server = new ServerCommand(System.out, new PrintStream(err, true, StandardCharsets.UTF_8),
          Map.of());
      CompletableFuture<Integer> serverExit = CompletableFuture.supplyAsync(
          () -> server.run(serverArgs.toArray(String[]::new)));
      GatewayCommand gateway = new GatewayCommand(System.out, new PrintStream(err, true, StandardCharsets.UTF_8));
      CompletableFuture<Integer> gatewayExit = null;
      try {
        EppServer epp = server.started().get(60, TimeUnit.SECONDS);
        assertNotNull(epp, err::toString);
        gatewayArgs.replaceAll(arg -> arg.equals("127.0.0.1:9002") ? "127.0.0.1:" + epp.grpcPort() : arg);
        gatewayArgs.add("--port=0");
        gatewayExit = CompletableFuture.supplyAsync(() -> gateway.run(gatewayArgs.toArray(String[]::new)));
        Gateway running = gateway.started().get(60, TimeUnit.SECONDS);
        assertNotNull(running, err::toString);

        HttpResponse<String> response = HttpClient.newHttpClient().send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + running.port() + curl.group(1)))
                .timeout(Duration.ofSeconds(30))
                .POST(HttpRequest.BodyPublishers.ofString(curl.group(2)))
                .build(),
            HttpResponse.BodyHandlers.ofString());

        assertEquals(200, response.statusCode(), response.body());
        assertTrue(response.body().contains("\"served_by\":\"readme\""), response.body());
      } finally {
        gateway.stop();
        server.stop();
        assertEquals(0, serverExit.get(60, TimeUnit.SECONDS));
        if (gatewayExit != null) {
          assertEquals(0, gatewayExit.get(60, TimeUnit.SECONDS));
        }
      }
    }
  }

  @Test
  void everyFlagIsDocumentedWithItsCommand() throws Exception {
    assertDocumented("Running the EPP server",
        out -> new ServerCommand(out, System.err, Map.of()).run(new String[] {"--help"}));
    assertDocumented("Gateway", out -> new GatewayCommand(out, System.err).run(new String[] {"--help"}));
    assertDocumented("Quick start", out -> new DemoCommand(out, System.err).run(new String[] {"--help"}));
    assertDocumented("Routing quality", out -> RoutingBench.run(new String[] {"--help"}, out, System.err));
    assertDocumented("Simulated model server", out -> SimulatorCommand.run(new String[] {"--help"}, out, System.err));
    assertDocumented("Running the EPP server", out -> StartupTime.run(new String[] {"--help"}, out, System.err));
  }

  /** Checks that every flag in a command's help is named in the README section {@code title}. */
  private static void assertDocumented(String title, Consumer<PrintStream> help) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    help.accept(new PrintStream(out, true, StandardCharsets.UTF_8));
    String section = expandFlagFamilies(section(title));
    List<String> missing = new ArrayList<>();
    for (String line : out.toString(StandardCharsets.UTF_8).lines().toList()) {
      Matcher flag = Pattern.compile("^  (--[a-z0-9-]+)").matcher(line);
      if (flag.find() && !flag.group(1).equals("--help") && !section.contains("`" + flag.group(1))
          && !section.contains(" " + flag.group(1) + " ")) {
        missing.add(flag.group(1));
      }
    }
    assertEquals(List.of(), missing, "flags missing from the README section " + title);
  }

  private static String expandFlagFamilies(String text) {
    Matcher family = FLAG_FAMILY.matcher(text);
    StringBuilder expanded = new StringBuilder();
    while (family.find()) {
      StringBuilder flags = new StringBuilder(family.group().split("/")[0]);
      for (String suffix : family.group(2).substring(2).split("/-")) {
        flags.append("` `--").append(family.group(1)).append(suffix);
      }
      family.appendReplacement(expanded, Matcher.quoteReplacement(flags.toString()));
    }
    return family.appendTail(expanded).toString();
  }

  /** The README section {@code ## title}, up to the next section. */
  private static String section(String title) throws Exception {
    String readme = Files.readString(Path.of("..", "README.md"));
    int start = readme.indexOf("\n## " + title + "\n");
    assertTrue(start >= 0, "no section " + title);
    int end = readme.indexOf("\n## ", start + 1);
    return readme.substring(start, end < 0 ? readme.length() : end);
  }

  /** The arguments of the first {@code java -jar ... <name>} command in {@code section}, without comment. */
  private static List<String> command(String section, String name) {
    for (String line : section.lines().toList()) {
      if (line.startsWith(JAR + name + " ")) {
        String command = line.substring((JAR + name).length()).replaceFirst("\\s+#.*$", "").strip();
        return Arrays.asList(command.split("\\s+"));
      }
    }
    throw new AssertionError("no " + name + " command in\n" + section);
  }
}
