package dev.epp.examples.modulepath;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.spi.ToolProvider;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The EPP's jars as modules: consumers in {@code src/test/consumers} are compiled with {@code javac} and run with
 * {@code java} on a module path of the reactor's jars and their dependencies, with no class path.
 */
class ModulePathTest {

  private static final Path CONSUMERS = Path.of("src/test/consumers");

  private static String modulePath;

  @BeforeAll
  static void readModulePath() throws IOException {
    Path file = Path.of(System.getProperty("epp.modulePathFile", "target/module-path.txt"));
    assertTrue(Files.isRegularFile(file), file + " is missing: run this test with mvn verify");
    modulePath = Files.readString(file).strip();
    for (String entry : modulePath.split(File.pathSeparator)) {
      assertTrue(entry.endsWith(".jar"), "not a jar, run this test with mvn verify: " + entry);
    }
  }

  @Test
  void schedulesWithPluginsServiceLoadedFromModules(@TempDir Path dir) throws Exception {
    assertEquals("", javac(sources(CONSUMERS.resolve("scheduler")), dir.resolve("classes")).errors());

    List<String> output = java(dir, List.of(), "dev.epp.examples.consumer/dev.epp.examples.consumer.Main", Map.of());

    assertEquals(List.of(
        "registry module: dev.epp.scheduler",
        "queue-scorer module: dev.epp.scheduler",
        "prefer-label-scorer module: dev.epp.examples.plugin",
        "chosen: 10.0.0.2:8000"), output);
  }

  @Test
  void internalPackageIsNotExported(@TempDir Path dir) throws Exception {
    Path source = Files.createDirectories(dir.resolve("src/dev/epp/examples/intruder"));
    Files.writeString(dir.resolve("src/module-info.java"),
        "module dev.epp.examples.intruder { requires dev.epp.scheduler; }");
    Files.writeString(source.resolve("Intruder.java"), """
        package dev.epp.examples.intruder;

        import dev.epp.scheduler.EndpointPool;
        import dev.epp.scheduler.internal.FailureLog;

        class Intruder {
          EndpointPool pool;
          FailureLog log;
        }
        """);

    Javac result = javac(sources(dir.resolve("src")), dir.resolve("classes"));

    assertNotEquals(0, result.exitCode());
    assertTrue(result.errors().contains("package dev.epp.scheduler.internal is not visible"), result.errors());
    assertTrue(result.errors().contains("which does not export it"), result.errors());
    assertFalse(result.errors().contains("EndpointPool"), "only the internal import fails: " + result.errors());
  }

  /**
   * {@code dev.epp.kubernetes} is an automatic module (fabric8 declares no module names). Running it on the module path
   * takes {@code --add-modules ALL-MODULE-PATH}, because fabric8's automatic modules need Jackson 3 modules that
   * nothing requires, and an {@code --add-exports} of a Vert.x internal that fabric8's Vert.x client uses.
   */
  @Test
  void kubernetesModuleRunsAsAnAutomaticModule(@TempDir Path dir) throws Exception {
    assertEquals("", javac(sources(CONSUMERS.resolve("kubernetes")), dir.resolve("classes")).errors());
    Path kubeconfig = Files.writeString(dir.resolve("kubeconfig"), """
        apiVersion: v1
        kind: Config
        clusters:
        - name: test
          cluster:
            server: https://127.0.0.1:6443
        contexts:
        - name: test
          context:
            cluster: test
            user: test
        current-context: test
        users:
        - name: test
          user:
            token: test
        """);

    List<String> output = java(dir,
        List.of("--add-modules", "ALL-MODULE-PATH",
            "--add-exports", "io.vertx.core/io.vertx.core.impl=io.fabric8.kubernetes.client.vertx5"),
        "dev.epp.examples.consumer.kubernetes/dev.epp.examples.consumer.kubernetes.Main",
        Map.of("KUBECONFIG", kubeconfig.toString()));

    assertEquals(List.of("api server: https://127.0.0.1:6443/"), output);
  }

  private record Javac(int exitCode, String errors) {}

  private static List<Path> sources(Path root) throws IOException {
    try (Stream<Path> files = Files.walk(root)) {
      return files.filter(file -> file.toString().endsWith(".java")).collect(Collectors.toList());
    }
  }

  /** Compiles one module's sources against the module path alone; returns javac's exit code and diagnostics. */
  private static Javac javac(List<Path> sources, Path classes) {
    ToolProvider javac = ToolProvider.findFirst("javac").orElseThrow();
    StringWriter diagnostics = new StringWriter();
    // An empty class path: javac run in-process would otherwise default to this JVM's class path.
    List<String> args =
        new ArrayList<>(List.of("-d", classes.toString(), "--class-path", "", "--module-path", modulePath));
    sources.forEach(source -> args.add(source.toString()));
    try (PrintWriter out = new PrintWriter(diagnostics)) {
      int exitCode = javac.run(out, out, args.toArray(String[]::new));
      return new Javac(exitCode, exitCode == 0 ? "" : diagnostics.toString());
    }
  }

  /**
   * Runs {@code module/mainClass} in a new JVM with the module path plus {@code dir/classes} and no class path, and
   * asserts that it exits 0.
   *
   * @return its standard output lines
   */
  private static List<String> java(Path dir, List<String> options, String main, Map<String, String> environment)
      throws IOException, InterruptedException {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(List.of("--module-path", modulePath + File.pathSeparator + dir.resolve("classes")));
    command.addAll(options);
    command.addAll(List.of("--module", main));
    Path stdout = dir.resolve("stdout.txt");
    Path stderr = dir.resolve("stderr.txt");
    ProcessBuilder builder = new ProcessBuilder(command).redirectOutput(stdout.toFile()).redirectError(stderr.toFile());
    builder.environment().remove("CLASSPATH");
    builder.environment().putAll(environment);
    Process process = builder.start();
    boolean exited = process.waitFor(5, TimeUnit.MINUTES); // a guard against a hang, not a performance bound
    if (!exited) {
      process.destroyForcibly();
    }
    String report = String.join(" ", command) + "\nstdout:\n" + Files.readString(stdout, StandardCharsets.UTF_8)
        + "stderr:\n" + Files.readString(stderr, StandardCharsets.UTF_8);
    assertTrue(exited, "did not exit: " + report);
    assertEquals(0, process.exitValue(), report);
    return Files.readAllLines(stdout, StandardCharsets.UTF_8);
  }
}
