package dev.epp.metrics.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.Ticker;
import dev.epp.api.TypedName;
import dev.epp.scheduler.EndpointPool;
import java.io.File;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Prometheus's own linter, {@code promtool check metrics} (Debian package {@code prometheus}; {@code .ci/run}
 * installs it), accepts the page the real exporter serves with every EPP family populated, JVM and process metrics
 * included. The test fails, rather than skips, when promtool is not installed.
 */
class PromtoolLintTest {

  /**
   * The one complaint accepted: llm-d's {@code llm_d_*} names keep their upstream abbreviated units (e.g.
   * {@code llm_d_epp_request_ntpot_seconds}). Everything else promtool reports fails the test.
   */
  private static final Pattern ACCEPTED =
      Pattern.compile("llm_d_\\S+ metric names should not contain abbreviated units");

  @TempDir Path dir;

  @Test
  void everyFamilyPassesPromtoolCheckMetrics() throws Exception {
    Path promtool = promtool();
    Path page = dir.resolve("metrics.txt");
    Files.writeString(page, populatedPage());

    Process process = new ProcessBuilder(promtool.toString(), "check", "metrics")
        .redirectInput(page.toFile())
        .redirectErrorStream(true)
        .redirectOutput(dir.resolve("promtool.out").toFile())
        .start();
    assertTrue(process.waitFor(2, TimeUnit.MINUTES), "promtool finished");
    List<String> complaints = Files.readAllLines(dir.resolve("promtool.out")).stream()
        .filter(line -> !line.isBlank() && !ACCEPTED.matcher(line).matches())
        .toList();
    assertEquals(List.of(), complaints, "promtool check metrics (exit " + process.exitValue() + ")");
  }

  /** The page served for a pool of one endpoint after one routed request, with every family written. */
  private static String populatedPage() throws Exception {
    EndpointPool pool = new EndpointPool();
    pool.upsert(Endpoint.of("vllm-0-rank-0", "10.0.0.1", 8000));
    pool.updateMetrics("vllm-0-rank-0", EndpointMetrics.builder().waitingQueueSize(1).runningRequests(2)
        .kvCacheUsage(0.25).updatedNanos(Ticker.system().nanos()).build());
    try (EppMetrics metrics = EppMetrics.create();
        MetricsExporter exporter = MetricsExporter.start(
            new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), metrics.registry(), null)) {
      metrics.monitorPool("pool", pool, Ticker.system(), Duration.ofMinutes(1), Duration.ofDays(1));
      metrics.addPrefixIndexSize(() -> 3);
      metrics.recordRequest("m", "t", 0);
      metrics.recordRequestError("m", "t", "ResourceExhausted");
      metrics.recordRequestSize("m", "t", 100);
      metrics.recordResponseSize("m", "t", 100);
      metrics.recordTokens("m", "t", 10, 5);
      metrics.recordPromptCachedTokens("m", "t", 4);
      metrics.recordRequestDuration("m", "t", 1_000_000, 5);
      metrics.requestStarted("m");
      metrics.recordRequest("m", "t", "tenant", 1);
      metrics.requestStarted("m", "t", "tenant", 1);
      metrics.recordTimeToFirstToken("m", "t", "tenant", 1, true, 2_000_000);
      metrics.recordInterTokenLatency("m", "t", "tenant", 1, 20_000_000);
      metrics.recordTimePerOutputToken("m", "t", "tenant", 1, 80_000_000, 5);
      metrics.enableGrpcStreamMetrics();
      metrics.extProcStreamStarted();
      metrics.extProcStreamStarted();
      metrics.extProcStreamFinished("OK", 3_000_000_000L);
      metrics.recordSchedulerLatency(50_000);
      metrics.recordSchedulingAttempt("t", pool.snapshot().endpoint(0));
      metrics.recordModelRewrite("rule", "m", "t");
      metrics.pluginLatency("Scorer", new TypedName("queue-scorer", "queue-scorer")).accept(10_000);
      metrics.recordPrefixCacheMatch(4, 8);
      metrics.recordDisaggDecision(new TypedName("disagg-profile-handler", "pd"), "t", "prefill-decode");
      HttpResponse<String> response = HttpClient.newHttpClient().send(
          HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + exporter.port() + "/metrics")).build(),
          HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
      assertEquals(200, response.statusCode());
      return response.body();
    }
  }

  private static Path promtool() {
    return Arrays.stream(System.getenv().getOrDefault("PATH", "").split(File.pathSeparator))
        .filter(d -> !d.isEmpty())
        .map(d -> Path.of(d, "promtool"))
        .filter(Files::isExecutable)
        .findFirst()
        .orElseGet(() -> fail("promtool is not on the PATH: install it (Debian: apt-get install prometheus; "
            + ".ci/run does this) to lint the /metrics page"));
  }
}
