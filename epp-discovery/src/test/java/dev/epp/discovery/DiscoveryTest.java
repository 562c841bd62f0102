package dev.epp.discovery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.scheduler.EndpointPool;
import dev.epp.testkit.LogCapture;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DiscoveryTest {

  @TempDir Path dir;

  private static List<String> names(EndpointPool pool) {
    return pool.endpoints().stream().map(Endpoint::name).sorted().toList();
  }

  @Test
  void staticListIsLoadedOnStart() {
    EndpointPool pool = new EndpointPool();
    try (LogCapture logs = new LogCapture(); StaticDiscovery discovery = new StaticDiscovery(
        List.of(Endpoint.of("a-rank-0", "10.0.0.1", 8000), Endpoint.of("b-rank-0", "fd00::2", 8000)))) {
      discovery.start(pool);
      assertEquals(List.of("a-rank-0", "b-rank-0"), names(pool));
      assertThrows(IllegalStateException.class, () -> discovery.start(pool));
      assertEquals(List.of("Endpoint a-rank-0 (10.0.0.1:8000) joined the pool",
              "Endpoint b-rank-0 ([fd00::2]:8000) joined the pool"),
          logs.lines("INFO", "joined").stream().map(l -> l.substring(l.indexOf(" - ") + 3)).toList());
    }
    assertThrows(IllegalArgumentException.class, () -> new StaticDiscovery(
        List.of(Endpoint.of("a", "10.0.0.1", 8000), Endpoint.of("a", "10.0.0.2", 8000))));
  }

  @Test
  void staticEndpointsNeedIpLiterals() {
    for (String address : List.of("999.1.1.1", "127.1", "localhost", "zz::1", "1.2.3.4.5")) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> new StaticDiscovery(List.of(Endpoint.of("a", address, 8000))));
      assertEquals("endpoint a: '" + address + "' is not an IP address: an IPv4 or IPv6 literal is required"
          + " (host names are not resolved)", e.getMessage());
    }
  }

  @Test
  void ipLiterals() {
    for (String ip : List.of("0.0.0.0", "10.0.0.1", "255.255.255.255", "::", "::1", "fd00::2", "FD00:0:0:0:0:0:0:2",
        "1:2:3:4:5:6:7:8", "1::", "::ffff:10.0.0.1", "64:ff9b::192.0.2.33", "1:2:3:4:5:6:1.2.3.4")) {
      assertTrue(IpPort.isIpLiteral(ip), ip);
    }
    for (String ip : List.of("", "10.0.0", "10.0.0.01", "1.2.3.256", "1.2.3.-1", "1..2.3", ":::", "1:::2", "1::2::3",
        ":1::", "1::2:", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::8", "12345::", "g::1",
        "1.2.3.4::", "::1.2.3", "fe80::1%eth0", "localhost", "host.example")) {
      assertFalse(IpPort.isIpLiteral(ip), ip);
    }
    assertEquals(new IpPort("fd00::2", 30000), IpPort.parse("[fd00::2]:30000"));
    assertEquals("[fd00::2]:30000", IpPort.parse("[fd00::2]:30000").toString());
    assertEquals("10.0.0.1:65535", IpPort.parse("10.0.0.1:65535").toString());
    for (String bad : List.of("10.0.0.1", "10.0.0.1:", "10.0.0.1:65536", "10.0.0.1:8000:1", "[fd00::2]", "[fd00::2]80",
        "fd00::2:80", ":80", "[]:80")) {
      assertThrows(IllegalArgumentException.class, () -> IpPort.parse(bad), bad);
    }
  }

  @Test
  void parsesLinesCommentsLabelsAndIpv6() {
    List<FileDiscovery.Problem> problems = new ArrayList<>();
    List<Endpoint> endpoints = FileDiscovery.parse(Path.of("pods.txt"), """
        # name  address  labels
        vllm-a-rank-0 10.0.0.1:8000 inference.networking.k8s.io/engine-type=vllm   # trailing comment

        \tsglang-b-rank-0\t[fd00::2]:30000 inference.networking.k8s.io/engine-type=sglang zone=a\r
        """, problems);
    assertEquals(List.of(), problems);
    assertEquals(List.of(
        new Endpoint("vllm-a-rank-0", "10.0.0.1", 8000, Map.of("inference.networking.k8s.io/engine-type", "vllm")),
        new Endpoint("sglang-b-rank-0", "fd00::2", 30000,
            Map.of("inference.networking.k8s.io/engine-type", "sglang", "zone", "a"))), endpoints);
  }

  @Test
  void badLinesAreReportedWithLineNumbersAndSkipped() {
    List<FileDiscovery.Problem> problems = new ArrayList<>();
    List<Endpoint> endpoints = FileDiscovery.parse(Path.of("pods.txt"), String.join("\n",
        "good-0 10.0.0.1:8000",
        "only-a-name",
        "bad-port 10.0.0.2:http",
        "out-of-range 10.0.0.3:70000",
        "bare-ipv6 fd00::1:8000",
        "bad-label 10.0.0.4:8000 novalue",
        "good-0 10.0.0.5:8000",
        "good-1 10.0.0.6:8000 a=b"), problems);
    assertEquals(List.of("good-0", "good-1"), endpoints.stream().map(Endpoint::name).toList());
    assertEquals(List.of(2, 3, 4, 5, 6, 7), problems.stream().map(FileDiscovery.Problem::line).toList());
    assertTrue(problems.get(0).toString().startsWith("pods.txt:2: "), problems.get(0).toString());
    assertTrue(problems.get(5).message().contains("listed twice"), problems.get(5).message());
  }

  @Test
  void watchedFileAddsRemovesAndModifies() throws IOException {
    Path file = dir.resolve("endpoints.txt");
    write(file, "a-rank-0 10.0.0.1:8000\nb-rank-0 10.0.0.2:8000\n");
    EndpointPool pool = new EndpointPool();
    pool.upsert(Endpoint.of("from-elsewhere", "10.9.9.9", 8000));
    try (FileDiscovery discovery = new FileDiscovery(file, Duration.ofMillis(20))) {
      discovery.start(pool);
      assertEquals(List.of("a-rank-0", "b-rank-0", "from-elsewhere"), names(pool), "loaded before start returns");

      pool.updateMetrics("a-rank-0", EndpointMetrics.builder().waitingQueueSize(5).updatedNanos(1).build());
      // Add c, drop b, relabel a (same address: metrics kept). Written with an atomic rename, as editors do.
      write(file, "a-rank-0 10.0.0.1:8000 zone=x\nc-rank-0 10.0.0.3:8000\n");
      Await.until("c added and b removed", () -> names(pool).equals(List.of("a-rank-0", "c-rank-0", "from-elsewhere")),
          () -> names(pool).toString());
      Await.until("a relabelled", () -> pool.endpoint("a-rank-0").orElseThrow().labels().equals(Map.of("zone", "x")));
      assertEquals(5, metrics(pool, "a-rank-0").waitingQueueSize());

      write(file, "a-rank-0 10.0.0.1:8000 zone=x\nc-rank-0 10.0.0.33:9000\nbroken line here\n");
      Await.until("c moved", () -> pool.endpoint("c-rank-0").orElseThrow().port() == 9000);
      assertEquals(3, discovery.problems().get(0).line());

      write(file, "# none for now\n");
      Await.until("all file endpoints removed", () -> names(pool).equals(List.of("from-elsewhere")));
    }
  }

  @Test
  void unreadableInitialFileFailsStart() {
    FileDiscovery discovery = new FileDiscovery(dir.resolve("missing.txt"));
    UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> discovery.start(new EndpointPool()));
    assertTrue(e.getMessage().contains("missing.txt"), e.getMessage());
  }

  @Test
  void theFileIsPolledOnTheSuppliedSchedulerWhichCloseDoesNotShutDown() throws IOException {
    Path file = dir.resolve("endpoints.txt");
    write(file, "a-rank-0 10.0.0.1:8000\n");
    List<String> ranOn = new java.util.concurrent.CopyOnWriteArrayList<>();
    ScheduledThreadPoolExecutor scheduler = new ScheduledThreadPoolExecutor(1, r -> new Thread(r, "embedder")) {
      @Override
      protected void beforeExecute(Thread t, Runnable r) {
        ranOn.add(t.getName());
      }
    };
    scheduler.setRemoveOnCancelPolicy(true);
    EndpointPool pool = new EndpointPool();
    try {
      FileDiscovery discovery = new FileDiscovery(file, Duration.ofMillis(20), scheduler);
      discovery.start(pool);
      write(file, "b-rank-0 10.0.0.2:8000\n");
      Await.until("the change is polled", () -> names(pool).equals(List.of("b-rank-0")));
      assertTrue(ranOn.stream().allMatch("embedder"::equals) && !ranOn.isEmpty(), ranOn.toString());
      discovery.close();
      assertFalse(scheduler.isShutdown());
      assertTrue(scheduler.getQueue().stream().allMatch(task -> ((java.util.concurrent.Future<?>) task).isCancelled()),
          "the polling is cancelled");
    } finally {
      scheduler.shutdownNow();
    }
  }

  static EndpointMetrics metrics(EndpointPool pool, String name) {
    var snapshot = pool.snapshot();
    for (int i = 0; i < snapshot.size(); i++) {
      if (snapshot.endpoint(i).name().equals(name)) {
        return snapshot.metrics(i);
      }
    }
    throw new AssertionError("no endpoint " + name);
  }

  static void write(Path file, String text) throws IOException {
    Path tmp = Files.createTempFile(file.getParent(), "endpoints", ".tmp");
    Files.writeString(tmp, text);
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }
}
