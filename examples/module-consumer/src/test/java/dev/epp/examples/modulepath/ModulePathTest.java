package dev.epp.examples.modulepath;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.lang.module.ModuleReader;
import java.lang.module.ModuleReference;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
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

  /** The modules with a descriptor of their own; {@code dev.epp.kubernetes} is automatic. */
  private static final List<String> DESCRIBED = List.of(
      "dev.epp.api", "dev.epp.scheduler", "dev.epp.discovery", "dev.epp.metrics", "dev.epp.extproc", "dev.epp.server",
      "dev.epp.kvcache", "dev.epp.redis");

  private static final String PLUGIN_FACTORY = "dev.epp.api.PluginFactory";

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

  /**
   * Each descriptor agrees with its module's class-path registration and package layout: it provides exactly the
   * plugin factories {@code META-INF/services} lists, and exports every package of classes but the {@code internal}
   * ones.
   */
  @Test
  void descriptorsProvideTheRegisteredFactoriesAndExportAllButInternalPackages() throws IOException {
    ModuleFinder finder = ModuleFinder.of(Arrays.stream(modulePath.split(File.pathSeparator)).map(Path::of)
        .toArray(Path[]::new));
    for (String name : DESCRIBED) {
      ModuleReference module = finder.find(name).orElseThrow(() -> new AssertionError(name + " not found"));
      ModuleDescriptor descriptor = module.descriptor();
      assertFalse(descriptor.isAutomatic(), name);

      Set<String> provided = descriptor.provides().stream()
          .filter(provides -> provides.service().equals(PLUGIN_FACTORY))
          .flatMap(provides -> provides.providers().stream())
          .collect(Collectors.toCollection(TreeSet::new));
      assertEquals(servicesFile(module), provided, name + " provides");

      Set<String> exported = descriptor.exports().stream()
          .filter(exports -> !exports.isQualified())
          .map(ModuleDescriptor.Exports::source)
          .collect(Collectors.toCollection(TreeSet::new));
      Set<String> expected = classPackages(module).stream()
          .filter(pkg -> !pkg.endsWith(".internal"))
          .collect(Collectors.toCollection(TreeSet::new));
      assertEquals(expected, exported, name + " exports");
    }
  }

  @Test
  void schedulesWithPluginsServiceLoadedFromModules(@TempDir Path dir) throws Exception {
    assertEquals("", javac(sources(CONSUMERS.resolve("scheduler")), dir.resolve("classes")).errors());

    Run run = java(dir, List.of(), "dev.epp.examples.consumer/dev.epp.examples.consumer.Main", Map.of());

    assertEquals(List.of(
        "registry module: dev.epp.scheduler",
        "queue-scorer module: dev.epp.scheduler",
        "prefer-label-scorer module: dev.epp.examples.plugin",
        "precise-prefix-cache-producer module: dev.epp.kvcache",
        "chosen: 10.0.0.2:8000"), run.stdout());
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
   * {@code EppServer} serves ext_proc and {@code /metrics} on the module path. gRPC's Guava is an automatic module that
   * cannot require its explicit {@code failureaccess} module, which must be added by name; {@code jdk.unsupported} lets
   * gRPC's Netty use direct buffers, as it does on the class path.
   */
  @Test
  void servesExtProcFromModules(@TempDir Path dir) throws Exception {
    assertEquals("", javac(sources(CONSUMERS.resolve("server")), dir.resolve("classes")).errors());

    Run run = java(dir, List.of("--add-modules", "com.google.common.util.concurrent.internal,jdk.unsupported"),
        "dev.epp.examples.consumer.server/dev.epp.examples.consumer.server.Main", Map.of());

    assertEquals(2, run.stdout().size(), run.report());
    assertTrue(run.stdout().get(0).matches("destination: 127\\.0\\.0\\.1:\\d+"), run.report());
    assertTrue(run.stdout().get(1).matches("metrics: inference_objective_request_total\\{.*model_name=\"m\".*} 1"),
        run.report());
    assertFalse(run.stderr().contains("direct buffers"), run.report());
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

    Run run = java(dir,
        List.of("--add-modules", "ALL-MODULE-PATH",
            "--add-exports", "io.vertx.core/io.vertx.core.impl=io.fabric8.kubernetes.client.vertx5"),
        "dev.epp.examples.consumer.kubernetes/dev.epp.examples.consumer.kubernetes.Main",
        Map.of("KUBECONFIG", kubeconfig.toString()));

    assertEquals(List.of("api server: https://127.0.0.1:6443/"), run.stdout());
  }

  private record Javac(int exitCode, String errors) {}

  /** A finished {@code java} process: its standard output lines, standard error, and a report for failures. */
  private record Run(List<String> stdout, String stderr, String report) {}

  private static List<Path> sources(Path root) throws IOException {
    try (Stream<Path> files = Files.walk(root)) {
      return files.filter(file -> file.toString().endsWith(".java")).collect(Collectors.toList());
    }
  }

  /** The provider classes a module lists in {@code META-INF/services/dev.epp.api.PluginFactory}. */
  private static Set<String> servicesFile(ModuleReference module) throws IOException {
    try (ModuleReader reader = module.open()) {
      Optional<InputStream> in = reader.open("META-INF/services/" + PLUGIN_FACTORY);
      if (in.isEmpty()) {
        return Set.of();
      }
      try (InputStream lines = in.get()) {
        return new String(lines.readAllBytes(), StandardCharsets.UTF_8).lines()
            .map(String::strip)
            .filter(line -> !line.isEmpty() && !line.startsWith("#"))
            .collect(Collectors.toCollection(TreeSet::new));
      }
    }
  }

  /** The packages that hold a module's classes (not those with resources only, such as the ext_proc .proto files). */
  private static Set<String> classPackages(ModuleReference module) throws IOException {
    try (ModuleReader reader = module.open(); Stream<String> entries = reader.list()) {
      return entries.filter(entry -> entry.endsWith(".class") && entry.contains("/"))
          .map(entry -> entry.substring(0, entry.lastIndexOf('/')).replace('/', '.'))
          .collect(Collectors.toCollection(TreeSet::new));
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
   */
  private static Run java(Path dir, List<String> options, String main, Map<String, String> environment)
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
    Run run = new Run(Files.readAllLines(stdout, StandardCharsets.UTF_8), Files.readString(stderr),
        "java --module-path <module path>:" + dir.resolve("classes") + " " + String.join(" ", options)
            + " --module " + main + "\nstdout:\n" + Files.readString(stdout) + "stderr:\n" + Files.readString(stderr));
    assertTrue(exited, "did not exit: " + run.report());
    assertEquals(0, process.exitValue(), run.report());
    return run;
  }
}
