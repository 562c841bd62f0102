package dev.epp.server;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.Plugin;
import dev.epp.api.Ticker;
import dev.epp.api.TypedName;
import dev.epp.api.scheduling.Candidates;
import dev.epp.metrics.export.MetricsExporter.Document;
import dev.epp.scheduler.DecisionLog;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.scheduler.EndpointPool;
import dev.epp.scheduler.Explanation;
import dev.epp.scheduler.SchedulingProfile;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The live page and its JSON, served on the metrics port: {@code /} and {@code /ui} (one HTML file that polls the
 * JSON every second), {@code /debug/pool}, {@code /debug/config} and {@code /debug/decisions}. Output is bounded:
 * at most {@value #MAX_ENDPOINTS} endpoints, and per decision at most {@value #MAX_CANDIDATES} candidates in each
 * list and map (the first ones, in candidate order; {@code omitted} counts the rest).
 */
final class DebugPages {

  static final int MAX_ENDPOINTS = 1000;
  static final int MAX_CANDIDATES = 64;
  private static final String JSON = "application/json";
  private static final JsonFactory FACTORY = new JsonFactory();

  private final EndpointPool pool;
  private final Supplier<EndpointPickerConfig> config;
  private final DecisionLog decisions;
  private final EppServerOptions options;
  private final Document page;

  /** Pages over {@code pool} and the configuration {@code config} supplies (the one in use when a page is made). */
  DebugPages(EndpointPool pool, Supplier<EndpointPickerConfig> config, DecisionLog decisions,
      EppServerOptions options) {
    this.pool = pool;
    this.config = config;
    this.decisions = decisions;
    this.options = options;
    this.page = new Document("text/html; charset=utf-8", resource("epp-page.html"));
  }

  /** The paths served, for {@link dev.epp.metrics.export.MetricsExporter}. */
  /** The page's paths: it holds no data, and asks for the bearer token when its JSON needs one. */
  static final Set<String> WITHOUT_TOKEN = Set.of("/", "/ui");

  Map<String, Supplier<Document>> routes() {
    return Map.of(
        "/", () -> page,
        "/ui", () -> page,
        "/debug/pool", () -> json(this::pool),
        "/debug/config", () -> json(this::config),
        "/debug/decisions", () -> json(this::decisions));
  }

  private interface Writer {
    void write(JsonGenerator json) throws IOException;
  }

  private static Document json(Writer writer) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(16 * 1024);
    try (JsonGenerator json = FACTORY.createGenerator(out)) {
      writer.write(json);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return new Document(JSON, out.toByteArray());
  }

  private static byte[] resource(String name) {
    try (InputStream in = DebugPages.class.getResourceAsStream(name)) {
      if (in == null) {
        throw new IllegalStateException("missing resource " + name);
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** {@code {"pool", "stalenessThresholdMillis", "endpoints": [...], "omitted"}}. */
  private void pool(JsonGenerator json) throws IOException {
    Candidates snapshot = pool.snapshot();
    long now = Ticker.system().nanos();
    long threshold = options.metricsStalenessThreshold().toNanos();
    json.writeStartObject();
    json.writeStringField("pool", options.poolName());
    json.writeNumberField("stalenessThresholdMillis", options.metricsStalenessThreshold().toMillis());
    json.writeArrayFieldStart("endpoints");
    int n = Math.min(snapshot.size(), MAX_ENDPOINTS);
    for (int i = 0; i < n; i++) {
      Endpoint endpoint = snapshot.endpoint(i);
      EndpointMetrics metrics = snapshot.metrics(i);
      json.writeStartObject();
      json.writeStringField("name", endpoint.name());
      json.writeStringField("address", endpoint.hostPort());
      json.writeObjectFieldStart("labels");
      for (Map.Entry<String, String> label : endpoint.labels().entrySet()) {
        json.writeStringField(label.getKey(), label.getValue());
      }
      json.writeEndObject();
      json.writeBooleanField("fresh", metrics.isFresh(now, threshold));
      json.writeNumberField("waitingQueueSize", metrics.waitingQueueSize());
      json.writeNumberField("runningRequests", metrics.runningRequests());
      json.writeNumberField("kvCacheUsage", metrics.kvCacheUsage());
      if (metrics.updatedNanos() == EndpointMetrics.NEVER) {
        json.writeNullField("metricsAgeMillis");
      } else {
        json.writeNumberField("metricsAgeMillis", Math.max(0, (now - metrics.updatedNanos()) / 1_000_000));
      }
      json.writeEndObject();
    }
    json.writeEndArray();
    json.writeNumberField("omitted", snapshot.size() - n);
    json.writeEndObject();
  }

  /** {@code {"profileHandler", "profiles": [...], "plugins": [...], "featureGates", "parsers", ...}}. */
  private void config(JsonGenerator json) throws IOException {
    EndpointPickerConfig config = this.config.get();
    json.writeStartObject();
    typedName(json, "profileHandler", config.profileHandler().typedName());
    json.writeArrayFieldStart("profiles");
    for (SchedulingProfile profile : config.profiles()) {
      json.writeStartObject();
      json.writeStringField("name", profile.name());
      json.writeArrayFieldStart("filters");
      for (Plugin filter : profile.filters()) {
        typedName(json, null, filter.typedName());
      }
      json.writeEndArray();
      json.writeArrayFieldStart("scorers");
      for (SchedulingProfile.WeightedScorer scorer : profile.scorers()) {
        json.writeStartObject();
        json.writeStringField("type", scorer.scorer().typedName().type());
        json.writeStringField("name", scorer.scorer().typedName().name());
        json.writeNumberField("weight", scorer.weight());
        json.writeEndObject();
      }
      json.writeEndArray();
      typedName(json, "picker", profile.picker().typedName());
      json.writeEndObject();
    }
    json.writeEndArray();
    typedNames(json, "plugins", config.plugins());
    typedNames(json, "parsers", config.parsers());
    if (config.saturationDetector().isPresent()) {
      typedName(json, "saturationDetector", config.saturationDetector().get().typedName());
    } else {
      json.writeNullField("saturationDetector");
    }
    json.writeBooleanField("flowControl", config.flowControl().isPresent());
    json.writeArrayFieldStart("featureGates");
    for (String gate : config.featureGates().stream().sorted().toList()) {
      json.writeString(gate);
    }
    json.writeEndArray();
    json.writeBooleanField("emitEndpointScores", options.emitEndpointScores());
    json.writeEndObject();
  }

  /** {@code {"capacity", "sampleIntervalMillis", "decisions": [...]}}, newest first. */
  private void decisions(JsonGenerator json) throws IOException {
    json.writeStartObject();
    json.writeNumberField("capacity", decisions.capacity());
    json.writeNumberField("sampleIntervalMillis", decisions.sampleInterval().toMillis());
    json.writeArrayFieldStart("decisions");
    for (DecisionLog.Decision d : decisions.recent()) {
      json.writeStartObject();
      json.writeStringField("time", Instant.ofEpochMilli(d.epochMillis()).toString());
      json.writeStringField("requestId", d.requestId());
      json.writeStringField("model", d.model());
      json.writeStringField("targetModel", d.targetModel());
      strings(json, "targets", d.targets());
      if (d.errorCode() == null) {
        json.writeNullField("error");
      } else {
        json.writeObjectFieldStart("error");
        json.writeStringField("code", d.errorCode());
        json.writeStringField("message", d.errorMessage());
        json.writeEndObject();
      }
      explanation(json, d.explanation());
      json.writeEndObject();
    }
    json.writeEndArray();
    json.writeEndObject();
  }

  private static void explanation(JsonGenerator json, Explanation explanation) throws IOException {
    if (explanation == null) {
      json.writeNullField("explanation");
      return;
    }
    json.writeObjectFieldStart("explanation");
    entries(json, "addresses", explanation.addresses());
    json.writeArrayFieldStart("profiles");
    for (Explanation.ProfileRun run : explanation.profiles()) {
      json.writeStartObject();
      json.writeStringField("profile", run.profile());
      strings(json, "candidates", run.candidates());
      json.writeArrayFieldStart("filters");
      for (Explanation.FilterStep step : run.filters()) {
        json.writeStartObject();
        plugin(json, step.filter());
        strings(json, "removed", step.removed());
        json.writeNumberField("nanos", step.nanos());
        json.writeEndObject();
      }
      json.writeEndArray();
      json.writeArrayFieldStart("scorers");
      for (Explanation.ScorerStep step : run.scorers()) {
        json.writeStartObject();
        plugin(json, step.scorer());
        json.writeNumberField("weight", step.weight());
        entries(json, "scores", step.scores());
        json.writeNumberField("nanos", step.nanos());
        json.writeEndObject();
      }
      json.writeEndArray();
      if (run.pick() == null) {
        json.writeNullField("pick");
      } else {
        json.writeObjectFieldStart("pick");
        plugin(json, run.pick().picker());
        entries(json, "totals", run.pick().totals());
        strings(json, "picked", run.pick().picked());
        json.writeNumberField("nanos", run.pick().nanos());
        json.writeEndObject();
      }
      json.writeEndObject();
    }
    json.writeEndArray();
    json.writeEndObject();
  }

  private static void plugin(JsonGenerator json, TypedName name) throws IOException {
    json.writeStringField("type", name.type());
    json.writeStringField("name", name.name());
  }

  private static void typedName(JsonGenerator json, String field, TypedName name) throws IOException {
    if (field == null) {
      json.writeStartObject();
    } else {
      json.writeObjectFieldStart(field);
    }
    plugin(json, name);
    json.writeEndObject();
  }

  private static void typedNames(JsonGenerator json, String field, Collection<? extends Plugin> plugins)
      throws IOException {
    json.writeArrayFieldStart(field);
    for (Plugin plugin : plugins) {
      typedName(json, null, plugin.typedName());
    }
    json.writeEndArray();
  }

  /** A list of at most {@value #MAX_CANDIDATES} strings, with {@code <field>Omitted} when cut. */
  private static void strings(JsonGenerator json, String field, List<String> values) throws IOException {
    json.writeArrayFieldStart(field);
    int n = Math.min(values.size(), MAX_CANDIDATES);
    for (int i = 0; i < n; i++) {
      json.writeString(values.get(i));
    }
    json.writeEndArray();
    if (values.size() > n) {
      json.writeNumberField(field + "Omitted", values.size() - n);
    }
  }

  /** A map of at most {@value #MAX_CANDIDATES} entries (numbers or strings), with {@code <field>Omitted} when cut. */
  private static void entries(JsonGenerator json, String field, Map<String, ?> values) throws IOException {
    json.writeObjectFieldStart(field);
    int n = 0;
    for (Map.Entry<String, ?> entry : values.entrySet()) {
      if (n++ == MAX_CANDIDATES) {
        break;
      }
      if (entry.getValue() instanceof Double number) {
        json.writeNumberField(entry.getKey(), number);
      } else {
        json.writeStringField(entry.getKey(), String.valueOf(entry.getValue()));
      }
    }
    json.writeEndObject();
    if (values.size() > MAX_CANDIDATES) {
      json.writeNumberField(field + "Omitted", values.size() - MAX_CANDIDATES);
    }
  }
}
