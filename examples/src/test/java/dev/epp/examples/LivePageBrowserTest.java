package dev.epp.examples;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.Endpoint;
import dev.epp.discovery.StaticDiscovery;
import dev.epp.examples.gateway.ModelServer;
import dev.epp.metrics.export.EppMetrics;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.server.EppServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;

/** The live page in a real browser over the running demo: pods, decisions and their explanation, bars under load. */
class LivePageBrowserTest {

  private static final Duration WAIT = Duration.ofSeconds(60);
  /** A model name a client could send: it must show as text, never as markup. */
  private static final String HOSTILE_MODEL = "<img src=x id=xss-probe>";

  /** Awaits a condition on the page, which replaces its elements at every refresh. */
  private static ConditionFactory eventually() {
    return await().atMost(WAIT).ignoreExceptionsInstanceOf(StaleElementReferenceException.class);
  }

  @TempDir
  Path profile;

  @Test
  void showsThePodsTheDecisionsWithTheirScoresAndBarsThatMoveUnderLoad() throws Exception {
    try (RunningDemo demo = new RunningDemo()) {
      ChromeDriver browser = Chromium.start(profile, 1280, 900);
      try {
        browser.get(demo.metrics("/").toString());
        eventually().untilAsserted(() -> assertEquals(List.of("vllm-0-rank-0", "vllm-1-rank-0", "vllm-2-rank-0"),
            browser.findElements(By.cssSelector("tr.endpoint")).stream().map(e -> e.getAttribute("data-name"))
                .sorted().toList()));
        eventually().until(() -> browser.findElement(By.id("config")).getText().contains("single-profile-handler"));

        eventually().pollInterval(Duration.ofMillis(300)).untilAsserted(() -> {
          demo.complete(HOSTILE_MODEL, "Hello", 8);
          assertTrue(browser.findElement(By.id("decisions")).getText().contains(HOSTILE_MODEL));
        });
        assertTrue(browser.findElements(By.id("xss-probe")).isEmpty(), "a model name is text, not markup");

        // One request per poll: a request within the sampling interval of the previous one is not recorded.
        eventually().pollInterval(Duration.ofMillis(300)).untilAsserted(() -> {
          assertEquals(200, demo.complete(RunningDemo.MODEL, "Hello", 8).statusCode());
          assertTrue(browser.findElement(By.id("decisions")).getText().contains(RunningDemo.MODEL));
        });
        eventually().untilAsserted(() ->
            browser.findElements(By.cssSelector("details.decision")).stream()
                .filter(d -> d.getText().contains(RunningDemo.MODEL)).findFirst().orElseThrow()
                .findElement(By.tagName("summary")).click());
        eventually().untilAsserted(() -> {
          WebElement run = browser.findElement(By.cssSelector("details.decision[open] .run"));
          String text = run.getText();
          assertEquals(3, run.findElements(By.cssSelector("tbody tr")).size(), text);
          assertEquals(1, run.findElements(By.cssSelector("tr.picked")).size(), text);
          assertTrue(text.contains("primary"), text);
          assertTrue(run.findElements(By.tagName("th")).size() > 4, "a column per scorer: " + text);
        });

        Map<String, String> idle = bars(browser);
        assertFalse(idle.isEmpty());
        try (RunningDemo.Load load = demo.load(8)) {
          eventually().pollInterval(Duration.ofMillis(200)).until(() -> {
            Map<String, String> now = bars(browser);
            return !now.equals(idle) && now.values().stream().anyMatch(v -> Double.parseDouble(v) > 0);
          });
        }
      } finally {
        browser.quit();
      }
    }
  }

  @Test
  void asksForTheBearerTokenWhenTheMetricsPortWantsOne() throws Exception {
    try (ModelServer model = new ModelServer("vllm-0")) {
      EppServer server = EppServer.builder(EndpointPickerConfig.loader().metrics(EppMetrics.create()).defaults(),
              new StaticDiscovery(List.of(Endpoint.of("vllm-0", "127.0.0.1", model.port()))))
          .grpcPort(0).healthPort(0).metricsPort(0).secureServing(false).metricsBearerToken("s3cret")
          .build().start();
      ChromeDriver browser = Chromium.start(profile, 1280, 900);
      try {
        browser.get("http://127.0.0.1:" + server.metricsPort() + "/");
        eventually().until(() -> browser.findElement(By.id("token-form")).isDisplayed());
        assertTrue(browser.findElement(By.id("status")).getText().contains("bearer token"));
        browser.findElement(By.id("token")).sendKeys("s3cret");
        browser.findElement(By.cssSelector("#token-form button")).click();
        eventually().untilAsserted(() -> assertEquals(List.of("vllm-0"),
            browser.findElements(By.cssSelector("tr.endpoint")).stream().map(e -> e.getAttribute("data-name"))
                .toList()));
        assertFalse(browser.findElement(By.id("token-form")).isDisplayed());
      } finally {
        browser.quit();
        server.close();
      }
    }
  }

  /** Each endpoint's queue, running and KV-cache bar values, by endpoint and metric, read in one go. */
  @SuppressWarnings("unchecked")
  static Map<String, String> bars(ChromeDriver browser) {
    return (Map<String, String>) browser.executeScript("return Object.fromEntries([...document.querySelectorAll("
        + "'tr.endpoint .bar')].map(b => [b.closest('tr').dataset.name + '/' + b.dataset.metric, b.dataset.value]))");
  }
}
