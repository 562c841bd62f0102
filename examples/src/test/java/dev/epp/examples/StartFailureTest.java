package dev.epp.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Start failures of the long-running commands, each run as a real process: the exit code and everything the process
 * writes to stderr, which is one line saying why (no log line before it).
 */
class StartFailureTest {

  @TempDir Path dir;
  private ServerSocket busy;

  @BeforeEach
  void takeAPort() throws IOException {
    busy = new ServerSocket();
    busy.bind(new InetSocketAddress(0));
  }

  @AfterEach
  void releaseThePort() throws IOException {
    busy.close();
  }

  private String busyPort() {
    return Integer.toString(busy.getLocalPort());
  }

  @Test
  void missingConfigFile() throws Exception {
    Path missing = dir.resolve("nope.yaml");
    assertFails(1, "server: --config-file " + missing + ": no such file",
        "server", "--endpoints", "127.0.0.1:1", "--config-file", missing.toString());
    assertFails(1, "gateway: --config-file " + missing + ": no such file",
        "gateway", "--in-process", "--endpoints", "127.0.0.1:1", "--port", "0", "--config-file", missing.toString());
  }

  @Test
  void configFileThatIsADirectory() throws Exception {
    assertFails(1, "server: --config-file " + dir + ": is a directory",
        "server", "--endpoints", "127.0.0.1:1", "--config-file", dir.toString());
  }

  @Test
  void missingEndpointsFile() throws Exception {
    Path missing = dir.resolve("endpoints.txt");
    assertFails(1, "server: --endpoints-file " + missing + ": no such file",
        "server", "--endpoints-file", missing.toString());
    assertFails(1, "gateway: --endpoints-file " + missing + ": no such file",
        "gateway", "--in-process", "--endpoints-file", missing.toString(), "--port", "0");
  }

  @Test
  void missingCertificate() throws Exception {
    Path missing = dir.resolve("tls");
    assertFails(1, "server: --cert-path " + missing + ": no such directory",
        "server", "--endpoints", "127.0.0.1:1", "--cert-path", missing.toString());
    Files.createDirectory(missing);
    Files.writeString(missing.resolve("tls.crt"), "");
    assertFails(1, "server: --cert-path " + missing.resolve("tls.key") + ": no such file",
        "server", "--endpoints", "127.0.0.1:1", "--cert-path", missing.toString());
  }

  @Test
  void portInUse() throws Exception {
    String inUse = ": cannot listen: Address already in use";
    // with TLS on by default: found before a certificate is made or the endpoints scraped
    assertFails(1, "server: --metrics-port " + busyPort() + inUse,
        "server", "--endpoints", "127.0.0.1:1", "--grpc-port", "0", "--grpc-health-port", "0",
        "--metrics-port", busyPort());
    assertFails(1, "gateway: --port " + busyPort() + inUse, "gateway", "--port", busyPort());
    assertFails(1, "demo: --gateway-port " + busyPort() + inUse, "demo", "--gateway-port", busyPort(),
        "--grpc-port", "0", "--grpc-health-port", "0", "--metrics-port", "0", "--first-pod-port", "0", "--kv-events-port", "0");
  }

  @Test
  void samePortTwice() throws Exception {
    assertFails(1, "server: --grpc-port and --metrics-port are both 29555",
        "server", "--endpoints", "127.0.0.1:1", "--grpc-port", "29555", "--grpc-health-port", "0",
        "--metrics-port", "29555");
  }

  @Test
  void badCommandLineStillExitsTwo() throws Exception {
    assertFails(2, "server: unknown flag --nope (see --help)", "server", "--nope");
  }

  /** Runs {@code java dev.epp.examples.Main args} and checks its exit code and its whole stderr. */
  private static void assertFails(int exitCode, String stderr, String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), Main.class.getName()));
    command.addAll(List.of(args));
    Process process = new ProcessBuilder(command).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    String errors = new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!process.waitFor(60, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new AssertionError("still running: " + command);
    }
    assertEquals(List.of(stderr), errors.lines().toList(), String.join(" ", args));
    assertEquals(exitCode, process.exitValue(), String.join(" ", args));
  }
}
