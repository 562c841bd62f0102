package dev.epp.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The {@code startup-time} command, starting the server from the test class path. */
class StartupTimeTest {

  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  @Test
  void timesReadinessAndTheFirstRoutedRequestOfEachStartForBothJvmCommandLines() {
    int code = run("--class-path", System.getProperty("java.class.path"), "--runs=1", "--requests=3",
        "--jvm-args=-Xshare:auto", "--compare-jvm-args=-XX:TieredStopAtLevel=1");

    assertEquals(0, code, err::toString);
    List<String> lines = out.toString(StandardCharsets.UTF_8).lines().toList();
    assertEquals(4, lines.size(), lines::toString);
    Pattern run = Pattern.compile("\\[(.*)] run 1: ready (\\d+) ms, first routed (\\d+) ms");
    for (int i = 0; i < 2; i++) {
      Matcher matcher = run.matcher(lines.get(i));
      assertTrue(matcher.matches(), lines.get(i));
      assertEquals(i == 0 ? "-Xshare:auto" : "-XX:TieredStopAtLevel=1", matcher.group(1));
      assertTrue(Long.parseLong(matcher.group(2)) <= Long.parseLong(matcher.group(3)), lines.get(i));
    }
    assertTrue(lines.get(2).matches("\\[-Xshare:auto] \\(1 runs\\): ready median \\d+ ms, min \\d+ ms, max \\d+ ms; "
        + "first routed median \\d+ ms, min \\d+ ms, max \\d+ ms"), lines.get(2));
    assertTrue(lines.get(3).startsWith("[-XX:TieredStopAtLevel=1] (1 runs): ready median "), lines.get(3));
  }

  @Test
  void aServerThatDoesNotStartFailsTheCommandWithItsError() {
    int code = run("--class-path", System.getProperty("java.class.path"), "--server-args=--config-text=plugins: 7");

    assertEquals(1, code);
    String message = err.toString(StandardCharsets.UTF_8);
    assertTrue(message.startsWith("startup-time: the server exited with 1: "), message);
    assertTrue(message.contains("server: invalid configuration"), message);
    assertEquals("", out.toString(StandardCharsets.UTF_8));
  }

  @Test
  void aJarAndAClassPathAreMutuallyExclusive() {
    assertEquals(2, run("--jar", "a.jar", "--class-path", "b"));
    assertEquals("startup-time: --jar and --class-path are mutually exclusive (see --help)\n",
        err.toString(StandardCharsets.UTF_8));
  }

  private int run(String... args) {
    return StartupTime.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
  }
}
