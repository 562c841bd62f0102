package dev.epp.examples;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The live page's JSON on the demo's metrics port, over plain HTTP. */
class LivePageJsonTest {

  private final ObjectMapper json = new ObjectMapper();

  @Test
  void decisionsPoolAndConfigHaveTheirDocumentedShape() throws Exception {
    try (RunningDemo demo = new RunningDemo()) {
      HttpResponse<String> page = demo.get("/");
      assertEquals(200, page.statusCode());
      assertTrue(page.headers().firstValue("Content-Type").orElse("").startsWith("text/html"));
      assertTrue(page.body().contains("/debug/decisions"), "the page polls the decisions");
      assertEquals(page.body(), demo.get("/ui").body());

      // One request per poll: a request within the sampling interval of the previous one is not recorded.
      JsonNode decisions = await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(200)).until(() -> {
        assertEquals(200, demo.complete(RunningDemo.MODEL, "Hello", 8).statusCode());
        return json.readTree(demo.get("/debug/decisions").body());
      }, d -> d.path("decisions").size() > 0);
      assertEquals(100, decisions.path("capacity").asInt());
      assertEquals(100, decisions.path("sampleIntervalMillis").asInt());
      JsonNode d = decisions.path("decisions").get(0);
      assertEquals(RunningDemo.MODEL, d.path("model").asText());
      assertTrue(d.path("error").isNull(), d.toString());
      assertTrue(d.path("time").asText().matches("\\d{4}-\\d\\d-\\d\\dT.*Z"), d.toString());
      assertEquals(1, d.path("targets").size(), d.toString());
      String target = d.path("targets").get(0).asText();
      JsonNode run = d.path("explanation").path("profiles").get(0);
      assertEquals("default", run.path("profile").asText());
      assertEquals(3, run.path("candidates").size(), run.toString());
      assertTrue(run.path("scorers").size() > 0, run.toString());
      for (JsonNode scorer : run.path("scorers")) {
        assertTrue(scorer.path("type").isTextual() && scorer.path("weight").isNumber(), scorer.toString());
        assertEquals(3, scorer.path("scores").size(), scorer.toString());
      }
      assertEquals(target, run.path("pick").path("picked").get(0).asText());
      assertEquals(3, run.path("pick").path("totals").size());
      assertTrue(d.path("explanation").path("addresses").path(target).asText().startsWith("127.0.0.1:"));

      JsonNode pool = json.readTree(demo.get("/debug/pool").body());
      assertEquals("demo-pool", pool.path("pool").asText());
      List<String> names = new ArrayList<>();
      for (JsonNode endpoint : pool.path("endpoints")) {
        names.add(endpoint.path("name").asText());
        for (String field : List.of("waitingQueueSize", "runningRequests", "kvCacheUsage")) {
          assertTrue(endpoint.path(field).isNumber(), field + " in " + endpoint);
        }
        assertTrue(endpoint.path("fresh").isBoolean() && endpoint.path("labels").isObject(), endpoint.toString());
      }
      assertEquals(List.of("vllm-0-rank-0", "vllm-1-rank-0", "vllm-2-rank-0"), names.stream().sorted().toList());

      JsonNode config = json.readTree(demo.get("/debug/config").body());
      assertEquals("single-profile-handler", config.path("profileHandler").path("type").asText());
      assertEquals("default", config.path("profiles").get(0).path("name").asText());
      assertTrue(config.path("profiles").get(0).path("scorers").get(0).path("weight").isNumber(), config.toString());
      assertTrue(config.path("featureGates").isArray(), config.toString());
    }
  }
}
