package dev.epp.discovery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointStore;
import dev.epp.scheduler.EndpointPool;
import dev.epp.testkit.LogCapture;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The endpoints file under hostile input and careless writers: a real file, a real {@link FileDiscovery}, the real
 * pool and, where a bad endpoint could break it, the real scraper listening to the pool.
 */
class EndpointsFileHostileInputTest {

  private static final Duration POLL = Duration.ofMillis(20);

  @TempDir Path dir;

  private final EndpointPool pool = new EndpointPool();
  private final List<AutoCloseable> closeables = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
  }

  private <T extends AutoCloseable> T closing(T closeable) {
    closeables.add(closeable);
    return closeable;
  }

  private FileDiscovery discover(Path file, Duration poll) {
    FileDiscovery discovery = closing(new FileDiscovery(file, poll));
    discovery.start(pool);
    return discovery;
  }

  private List<String> names() {
    return pool.endpoints().stream().map(Endpoint::name).sorted().toList();
  }

  /** Waits until the discovery has polled the file {@code n} more times. */
  private static void polls(FileDiscovery discovery, int n) {
    long target = discovery.polls() + n;
    Await.until(n + " polls", () -> discovery.polls() >= target);
  }

  @Test
  void invalidAddressesAreSkippedWithFileAndLineAndLeaveNoGhost() throws IOException {
    // An address a scraper cannot use must not reach the pool it listens to.
    Path file = dir.resolve("endpoints.txt");
    DiscoveryTest.write(file, "first 10.0.0.1:8000\n");
    try (LogCapture logs = new LogCapture()) {
      FileDiscovery discovery = discover(file, POLL);
      DiscoveryTest.write(file, String.join("\n",
          "first 10.0.0.1:8000",
          "octet-999 999.1.1.1:80",
          "short-form 127.1:8000",
          "octet-256 256.0.0.1:80",
          "five-parts 1.2.3.4.5:80",
          "bad-ipv6 [zz::1]:80",
          "host-name localhost:8000",
          "ipv4-in-brackets [1.2.3.4]:80",
          "ipv6-zone [fe80::1%eth0]:80",
          "leading-zero 010.0.0.1:80",
          "signed-port 10.0.0.1:+80",
          "port-zero 10.0.0.1:0",
          "fullwidth-digit 10.0.0.\uFF11:80",
          "last [fd00::2]:30000",
          ""));
      Await.until("every good line applied, whatever precedes it", () -> names().equals(List.of("first", "last")),
          () -> names().toString());
      assertEquals(List.of(2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13),
          discovery.problems().stream().map(FileDiscovery.Problem::line).toList());
      String hostName = discovery.problems().get(5).toString();
      assertTrue(hostName.startsWith(file + ":7: ") && hostName.contains("'localhost' is not an IP address")
          && hostName.contains("IPv4 or IPv6 literal is required"), hostName);
      assertEquals(12, logs.lines("WARN", "Skipping bad line of endpoint file: " + file + ":").size());

      // The next load removes what the last one listed, and nothing else is left behind.
      DiscoveryTest.write(file, "second 10.0.0.2:8000\n");
      Await.until("only the new endpoint", () -> names().equals(List.of("second")), () -> names().toString());
    }
  }

  @Test
  void hostileTextIsSkippedLineByLine() throws IOException {
    Path file = dir.resolve("endpoints.txt");
    DiscoveryTest.write(file, "\uFEFFbom-first 10.0.0.1:8000\r\n"
        + "nul\u0000byte 10.0.0.2:8000\n"
        + "escape 10.0.0.3:8000 zone=\u001b[31mred\n"
        + "twice-labelled 10.0.0.4:8000 zone=a zone=b\n"
        + "long-" + "x".repeat(100_000) + " 10.0.0.5:8000\n"
        + "# a comment with a control character \u0007 is still a comment\n"
        + "crlf-last\t10.0.0.6:8000 zone=b\r\n");
    FileDiscovery discovery = discover(file, POLL);
    assertEquals(List.of("bom-first", "crlf-last", "long-" + "x".repeat(100_000)), names());
    assertEquals(Map.of("zone", "b"), pool.endpoint("crlf-last").orElseThrow().labels());
    assertEquals(List.of(2, 3, 4), discovery.problems().stream().map(FileDiscovery.Problem::line).toList());
    assertTrue(discovery.problems().get(0).message().contains("control character U+0000"),
        discovery.problems().get(0).message());
    assertTrue(discovery.problems().get(2).message().contains("label 'zone' is given twice"),
        discovery.problems().get(2).message());
  }

  @Test
  void unreadableContentKeepsTheEndpointsAndSaysWhyOnce() throws IOException {
    Path file = dir.resolve("endpoints.txt");
    DiscoveryTest.write(file, "a 10.0.0.1:8000\n");
    try (LogCapture logs = new LogCapture()) {
      FileDiscovery discovery = discover(file, POLL);

      Path notUtf8 = dir.resolve("latin1.tmp");
      Files.write(notUtf8, "a 10.0.0.1:8000 zone=M\u00fcnchen\n".getBytes(StandardCharsets.ISO_8859_1));
      Files.move(notUtf8, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      Await.until("not-UTF-8 reported", () -> logs.lines("WARN", "not UTF-8 text").size() == 1);

      Path huge = dir.resolve("huge.tmp");
      try (OutputStream out = Files.newOutputStream(huge)) {
        byte[] comment = ("#" + "x".repeat(1023) + "\n").getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i <= FileDiscovery.MAX_FILE_BYTES / comment.length; i++) {
          out.write(comment);
        }
      }
      Files.move(huge, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      Await.until("size reported", () -> logs.lines("WARN", "larger than " + FileDiscovery.MAX_FILE_BYTES).size() == 1);

      Files.delete(file);
      Files.createDirectory(file);
      Await.until("directory reported", () -> logs.lines("WARN", "not a regular file").size() == 1);
      polls(discovery, 3);
      assertEquals(List.of("a"), names(), "the endpoints stay while the file cannot be used");
      assertEquals(3, logs.lines("WARN", "Endpoint file " + file).size(), "one warning per state");
    }
  }

  @Test
  void aDeletedFileIsReportedOncePerChange() throws IOException {
    Path file = dir.resolve("endpoints.txt");
    DiscoveryTest.write(file, "a 10.0.0.1:8000\n");
    try (LogCapture logs = new LogCapture()) {
      FileDiscovery discovery = discover(file, POLL);
      Files.delete(file);
      polls(discovery, 5);
      assertEquals(1, logs.lines("WARN", "cannot be read: no such file").size(), logs.lines().toString());
      assertEquals(List.of("a"), names());

      DiscoveryTest.write(file, "a 10.0.0.1:8000\n");
      Await.until("reappearance logged", () -> logs.lines("INFO", "is in use again").size() == 1);
      polls(discovery, 3);
      Files.delete(file);
      polls(discovery, 5);
      assertEquals(2, logs.lines("WARN", "cannot be read: no such file").size(), logs.lines().toString());
      assertEquals(1, logs.lines("INFO", "is in use again").size());
    }
  }

  @Test
  void anEmptyOrWhollyBrokenFileKeepsTheEndpointsAndACommentEmptiesThePool() throws IOException {
    Path file = dir.resolve("endpoints.txt");
    DiscoveryTest.write(file, "a 10.0.0.1:8000\nb 10.0.0.2:8000\n");
    try (LogCapture logs = new LogCapture()) {
      FileDiscovery discovery = discover(file, POLL);
      // Truncated in place, as a writer does before writing the new content.
      Files.write(file, new byte[0], StandardOpenOption.TRUNCATE_EXISTING);
      Await.until("empty file reported", () -> logs.lines("WARN", "is empty").size() == 1);
      polls(discovery, 3);
      assertEquals(List.of("a", "b"), names());

      DiscoveryTest.write(file, "garbage\nmore garbage\n");
      Await.until("broken file reported", () -> logs.lines("WARN", "has no good line").size() == 1);
      polls(discovery, 3);
      assertEquals(List.of("a", "b"), names());

      DiscoveryTest.write(file, "# no endpoints for now\n");
      Await.until("pool emptied on purpose", () -> names().isEmpty());
    }
  }

  /**
   * A file rewritten in place is read half-written: its first read of new content is not applied, only one that the
   * next read confirms. The poll interval is long, so the writer finishes well before that next read.
   */
  @Test
  void aHalfWrittenFileIsNotApplied() throws IOException {
    Path file = dir.resolve("endpoints.txt");
    String full = "a 10.0.0.1:8000\nb 10.0.0.2:8000\nc 10.0.0.3:8000\n";
    DiscoveryTest.write(file, full);
    List<String> seen = new CopyOnWriteArrayList<>();
    pool.addListener(new EndpointStore.Listener() {
      @Override
      public void added(Endpoint endpoint) {
        seen.add("+" + endpoint.name() + " " + endpoint.hostPort());
      }

      @Override
      public void removed(Endpoint endpoint) {
        seen.add("-" + endpoint.name());
      }
    });
    FileDiscovery discovery = discover(file, Duration.ofSeconds(2));
    seen.clear();

    // Cut mid-line: "c 10.0.0.3:80" would be a valid line with the wrong port.
    String changed = full.replace("b 10.0.0.2:8000", "b 10.0.0.2:9000");
    Files.writeString(file, changed.substring(0, changed.length() - 3), StandardOpenOption.TRUNCATE_EXISTING);
    polls(discovery, 1);
    Files.writeString(file, changed, StandardOpenOption.TRUNCATE_EXISTING);
    Await.until("the whole change applied", () -> pool.endpoint("b").orElseThrow().port() == 9000);
    polls(discovery, 1); // listeners run after the pool shows the change: let that poll finish notifying them
    assertEquals(List.of("+b 10.0.0.2:9000"), seen, "only the finished file was applied");
  }

  @Test
  void joiningAndLeavingAreLoggedOnceEach() throws IOException {
    Path file = dir.resolve("endpoints.txt");
    DiscoveryTest.write(file, "a 10.0.0.1:8000\nb 10.0.0.2:8000\n");
    try (LogCapture logs = new LogCapture()) {
      FileDiscovery discovery = discover(file, POLL);
      DiscoveryTest.write(file, "a 10.0.0.1:8000 zone=x\nc [fd00::3]:8000\n");
      Await.until("c joined", () -> names().equals(List.of("a", "c")));
      polls(discovery, 3);
      assertEquals(List.of("Endpoint a (10.0.0.1:8000) joined the pool", "Endpoint b (10.0.0.2:8000) joined the pool",
              "Endpoint c ([fd00::3]:8000) joined the pool", "Endpoint b (10.0.0.2:8000) left the pool"),
          logs.lines("INFO", "the pool").stream().map(l -> l.substring(l.indexOf(" - ") + 3)).toList());
    }
  }
}
