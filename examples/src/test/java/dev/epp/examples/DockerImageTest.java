package dev.epp.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The server image's command line ({@code examples/kubernetes/Dockerfile}). */
class DockerImageTest {

  /** The exit code of a JVM ended by {@code -XX:+ExitOnOutOfMemoryError}. */
  private static final int OUT_OF_MEMORY_EXIT = 3;

  @Test
  void anOutOfMemoryErrorEndsTheServerProcess() throws Exception {
    List<String> entrypoint = entrypoint();
    int jar = entrypoint.indexOf("-jar");
    assertEquals("java", entrypoint.get(0));
    assertEquals(List.of("-jar", "/app/epp-examples.jar", "server"), entrypoint.subList(jar, entrypoint.size()));
    List<String> jvmOptions = entrypoint.subList(1, jar);
    assertTrue(jvmOptions.contains("-XX:+ExitOnOutOfMemoryError"), jvmOptions.toString());

    // a worker thread runs out of memory while the main thread waits, as the server's does
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(jvmOptions);
    command.addAll(List.of("-Xmx32m", "-cp", System.getProperty("java.class.path"),
        OutOfMemoryInAWorker.class.getName()));
    Process process = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    try {
      assertTrue(process.waitFor(120, TimeUnit.SECONDS), "the process outlived its out-of-memory error");
      assertEquals(OUT_OF_MEMORY_EXIT, process.exitValue());
    } finally {
      process.destroyForcibly();
    }
  }

  @Test
  void theImageTrainsTheAppCdsArchiveItsEntrypointUsesWithTheSameJvmOptions() throws Exception {
    List<String> entrypoint = entrypoint();
    List<String> jvmOptions = new ArrayList<>(entrypoint.subList(1, entrypoint.indexOf("-jar")));
    assertTrue(jvmOptions.remove("-XX:SharedArchiveFile=/app/epp-examples.jsa"), jvmOptions.toString());
    String dockerfile = Files.readString(Path.of("kubernetes", "Dockerfile")).replace("\\\n", " ");
    List<String> training = dockerfile.lines().filter(line -> line.startsWith("RUN ")).findFirst()
        .map(line -> Arrays.asList(line.strip().split("\\s+"))).orElseThrow();

    assertEquals(List.of("RUN", "java", "-jar", "/app/epp-examples.jar", "startup-time"), training.subList(0, 5));
    List<String> trainingJvmOptions = training.stream().filter(arg -> arg.startsWith("--jvm-args="))
        .map(arg -> Arrays.asList(arg.substring("--jvm-args=".length()).split(","))).findFirst().orElseThrow();
    List<String> expected = new ArrayList<>(List.of("-XX:ArchiveClassesAtExit=/app/epp-examples.jsa"));
    expected.addAll(jvmOptions);
    assertEquals(expected, trainingJvmOptions);
  }

  /** The exec-form ENTRYPOINT of the Dockerfile. */
  private static List<String> entrypoint() throws Exception {
    for (String line : Files.readAllLines(Path.of("kubernetes", "Dockerfile"))) {
      if (line.startsWith("ENTRYPOINT ")) {
        return Arrays.asList(new ObjectMapper().readValue(line.substring("ENTRYPOINT ".length()), String[].class));
      }
    }
    throw new AssertionError("no ENTRYPOINT in the Dockerfile");
  }

  /** Allocates without end on a worker thread; the main thread waits for ever. */
  public static final class OutOfMemoryInAWorker {
    public static void main(String[] args) throws InterruptedException {
      Thread worker = new Thread(() -> {
        List<long[]> hoard = new ArrayList<>();
        while (true) {
          hoard.add(new long[1 << 16]);
        }
      }, "worker");
      worker.start();
      worker.join();
      Thread.sleep(Long.MAX_VALUE);
    }
  }
}
