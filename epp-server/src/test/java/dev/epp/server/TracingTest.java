package dev.epp.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.epp.api.Endpoint;
import dev.epp.discovery.StaticDiscovery;
import dev.epp.metrics.export.EppMetrics;
import dev.epp.scheduler.Director;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.scheduler.EndpointPool;
import dev.epp.scheduler.Routing;
import io.envoyproxy.envoy.config.core.v3.HeaderMap;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.service.ext_proc.v3.ExternalProcessorGrpc;
import io.envoyproxy.envoy.service.ext_proc.v3.HttpBody;
import io.envoyproxy.envoy.service.ext_proc.v3.HttpHeaders;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingRequest;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingResponse;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse;
import io.opentelemetry.proto.collector.trace.v1.TraceServiceGrpc;
import io.opentelemetry.proto.common.v1.KeyValue;
import io.opentelemetry.proto.trace.v1.Span;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.trace.ReadWriteSpan;
import io.opentelemetry.sdk.trace.ReadableSpan;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.SpanProcessor;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Tracing over real protocols: an EPP exporting OTLP gRPC to a collector on loopback, an Envoy-like ext_proc client
 * sending W3C trace context; and the {@code OTEL_*} settings.
 */
class TracingTest {

  private static final String TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
  private static final String CLIENT_SPAN_ID = "00f067aa0ba902b7";
  private static final String TRACEPARENT = "00-" + TRACE_ID + "-" + CLIENT_SPAN_ID + "-01";
  private static final Duration DEADLINE = Duration.ofSeconds(20);

  private final List<AutoCloseable> resources = new CopyOnWriteArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = resources.size() - 1; i >= 0; i--) {
      resources.get(i).close();
    }
  }

  @Test
  void spansReachAnOtlpCollectorInTheClientsTraceAndTheModelServerGetsTheTraceContext() throws Exception {
    Collector collector = new Collector();
    Server receiver = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(collector)
        .build().start();
    resources.add(() -> receiver.shutdownNow().awaitTermination(5, TimeUnit.SECONDS));
    Tracing.Settings settings = Tracing.Settings.fromEnvironment(Map.of(
        "OTEL_TRACES_EXPORTER", "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:" + receiver.getPort(),
        "OTEL_TRACES_SAMPLER", "always_on"));
    EppServer server = start(plaintext().openTelemetry(Tracing.openTelemetry(settings)));

    Map<String, String> upstream = route(server.grpcPort(), Map.of("traceparent", TRACEPARENT));
    server.close(); // flushes the batched spans

    Awaitility.await("both spans exported").atMost(DEADLINE).until(() -> collector.spans.size() >= 2);
    Map<String, Span> byName = collector.spans.stream().collect(Collectors.toMap(Span::getName, span -> span));
    Span request = byName.get("gateway.request");
    Span orchestration = byName.get("gateway.request_orchestration");
    assertEquals(TRACE_ID, hex(request.getTraceId()));
    assertEquals(CLIENT_SPAN_ID, hex(request.getParentSpanId()));
    assertEquals(Span.SpanKind.SPAN_KIND_SERVER, request.getKind());
    assertEquals(TRACE_ID, hex(orchestration.getTraceId()));
    assertEquals(hex(request.getSpanId()), hex(orchestration.getParentSpanId()));
    Map<String, String> attributes = attributes(orchestration.getAttributesList());
    assertEquals("[127.0.0.1:1]", attributes.get("llm_d.epp.endpoints"));
    assertEquals("m", attributes.get("gen_ai.request.model"));
    assertEquals("m", attributes.get("target_model"));
    assertEquals(upstream.get("x-request-id"), attributes.get("gen_ai.request.id"));
    assertTrue(orchestration.getEventsList().stream().anyMatch(event -> event.getName().equals("picker")
        && attributes(event.getAttributesList()).get("llm_d.epp.picked").equals("[vllm-rank-0]")),
        () -> "a picker event in " + orchestration.getEventsList());
    assertEquals("00-" + TRACE_ID + "-" + hex(orchestration.getSpanId()) + "-01", upstream.get("traceparent"));
    assertEquals(Tracing.DEFAULT_SERVICE_NAME, collector.serviceNames.get(0));
  }

  @Test
  void anErrorAnsweredToTheClientMarksTheRequestSpan() throws Exception {
    RecordingProcessor spans = new RecordingProcessor();
    EppServer server = start(plaintext().openTelemetry(sdk(spans)));

    BlockingQueue<Object> responses = exchange(server.grpcPort(), Map.of("traceparent", TRACEPARENT), "not json");
    Object first = responses.poll(DEADLINE.toSeconds(), TimeUnit.SECONDS);
    assertTrue(first instanceof ProcessingResponse response && response.hasImmediateResponse(), "got " + first);

    Awaitility.await("the request span").atMost(DEADLINE).until(() -> spans.ended("gateway.request") != null);
    ReadableSpan request = spans.ended("gateway.request");
    assertEquals(io.opentelemetry.api.trace.StatusCode.ERROR, request.toSpanData().getStatus().getStatusCode());
    assertEquals(TRACE_ID, request.getSpanContext().getTraceId());
    ReadableSpan orchestration = spans.ended("gateway.request_orchestration");
    assertEquals(io.opentelemetry.api.trace.StatusCode.ERROR,
        orchestration.toSpanData().getStatus().getStatusCode());
    assertEquals("BAD_REQUEST", orchestration.getAttribute(
        io.opentelemetry.api.common.AttributeKey.stringKey("error.type")));
  }

  @Test
  void withoutTracingNoTraceContextIsAddedUpstream() throws Exception {
    EppServer server = start(plaintext());

    assertFalse(route(server.grpcPort(), Map.of()).containsKey("traceparent"));
    assertEquals(TRACEPARENT, route(server.grpcPort(), Map.of("traceparent", TRACEPARENT)).get("traceparent"),
        "the client's own header passes unchanged");
  }

  @Test
  void aDirectorWithoutTracingStartsNoSpanEvenUnderACurrentOne() {
    RecordingProcessor spans = new RecordingProcessor();
    OpenTelemetrySdk sdk = sdk(spans);
    resources.add(sdk);
    Director director = Director.builder(config(), pool()).build();
    resources.add(director::close);

    io.opentelemetry.api.trace.Span caller = sdk.getTracer("test").spanBuilder("caller").startSpan();
    Scope scope = caller.makeCurrent();
    Routing routing = director.route(Map.of(), body(), null);
    scope.close();
    caller.end();

    assertNull(routing.upstreamHeaders().get("traceparent"));
    assertEquals(List.of("caller"), spans.names());
  }

  @Test
  void anInProcessCallersTraceparentHeaderParentsTheOrchestrationSpan() {
    RecordingProcessor spans = new RecordingProcessor();
    OpenTelemetrySdk sdk = sdk(spans);
    resources.add(sdk);
    Director director = Director.builder(config(), pool()).openTelemetry(sdk).build();
    resources.add(director::close);

    Routing routing = director.route(Map.of("traceparent", TRACEPARENT), body(), null);

    ReadableSpan orchestration = spans.ended("gateway.request_orchestration");
    assertEquals(TRACE_ID, orchestration.getSpanContext().getTraceId());
    assertEquals(CLIENT_SPAN_ID, orchestration.getParentSpanContext().getSpanId());
    assertEquals(SpanKind.SERVER, orchestration.getKind());
    assertEquals("00-" + TRACE_ID + "-" + orchestration.getSpanContext().getSpanId() + "-01",
        routing.upstreamHeaders().get("traceparent"));
    assertTrue(routing.explanation().isPresent(), "the routing carries the explanation made for the span");
  }

  @Test
  void defaultsAreGies() {
    Tracing.Settings settings = Tracing.Settings.fromEnvironment(Map.of());
    assertEquals("gateway-api-inference-extension/epp", settings.serviceName());
    assertEquals(Tracing.Exporter.CONSOLE, settings.exporter());
    assertEquals(URI.create("http://localhost:4317"), settings.endpoint());
    assertEquals(Sampler.parentBased(Sampler.traceIdRatioBased(0.1)).getDescription(),
        settings.sampler().getDescription());
    Tracing.openTelemetry(settings).close();
  }

  @Test
  void eachExporterAndSamplerByName() {
    Tracing.Settings otlp = Tracing.Settings.fromEnvironment(Map.of("OTEL_TRACES_EXPORTER", "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector.example:4317", "OTEL_SERVICE_NAME", "epp"));
    assertEquals(Tracing.Exporter.OTLP, otlp.exporter());
    assertEquals("epp", otlp.serviceName());
    assertEquals(URI.create("https://collector.example:4317"), otlp.endpoint());
    Tracing.openTelemetry(otlp).close();
    Map<String, Sampler> samplers = Map.of(
        "always_on", Sampler.alwaysOn(),
        "always_off", Sampler.alwaysOff(),
        "traceidratio", Sampler.traceIdRatioBased(0.25),
        "parentbased_always_on", Sampler.parentBased(Sampler.alwaysOn()),
        "parentbased_always_off", Sampler.parentBased(Sampler.alwaysOff()),
        "parentbased_traceidratio", Sampler.parentBased(Sampler.traceIdRatioBased(0.25)));
    samplers.forEach((name, expected) -> assertEquals(expected.getDescription(), Tracing.Settings.fromEnvironment(
        Map.of("OTEL_TRACES_SAMPLER", name, "OTEL_TRACES_SAMPLER_ARG", "0.25")).sampler().getDescription(), name));
  }

  @Test
  void badValuesAreClearErrors() {
    assertBad("OTEL_TRACES_EXPORTER must be console or otlp, got 'jaeger'", "OTEL_TRACES_EXPORTER", "jaeger");
    assertBad("OTEL_TRACES_SAMPLER must be one of always_on, always_off, traceidratio, parentbased_always_on, "
        + "parentbased_always_off, parentbased_traceidratio; got 'sometimes'", "OTEL_TRACES_SAMPLER", "sometimes");
    assertBad("OTEL_TRACES_SAMPLER_ARG must be a number in [0, 1], got 'half'", "OTEL_TRACES_SAMPLER_ARG", "half");
    assertBad("OTEL_TRACES_SAMPLER_ARG must be a number in [0, 1], got '1.5'", "OTEL_TRACES_SAMPLER_ARG", "1.5");
    assertBad("OTEL_EXPORTER_OTLP_ENDPOINT must be http://host:port or https://host:port, got localhost:4317",
        "OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4317");
    assertBad("OTEL_EXPORTER_OTLP_ENDPOINT is not a URL: 'http://a b'", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://a b");
  }

  private static void assertBad(String message, String name, String value) {
    assertEquals(message, assertThrows(IllegalArgumentException.class,
        () -> Tracing.Settings.fromEnvironment(Map.of(name, value))).getMessage());
  }

  /** An SDK recording into {@code spans}, sampling every trace. */
  private static OpenTelemetrySdk sdk(SpanProcessor spans) {
    return OpenTelemetrySdk.builder().setTracerProvider(SdkTracerProvider.builder()
        .setSampler(Sampler.alwaysOn()).addSpanProcessor(spans).build()).build();
  }

  private static EndpointPickerConfig config() {
    return EndpointPickerConfig.loader().metrics(EppMetrics.create()).defaults();
  }

  private static EndpointPool pool() {
    EndpointPool pool = new EndpointPool();
    pool.upsert(Endpoint.of("vllm-rank-0", "127.0.0.1", 1));
    return pool;
  }

  private static byte[] body() {
    return "{\"model\":\"m\",\"prompt\":\"Hello\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8);
  }

  private EppServer.Builder plaintext() {
    return EppServer.builder(config(), new StaticDiscovery(List.of(Endpoint.of("vllm-rank-0", "127.0.0.1", 1))))
        .secureServing(false).grpcPort(0).healthPort(0).metricsPort(0).drainTimeout(Duration.ofSeconds(1));
  }

  private EppServer start(EppServer.Builder builder) {
    EppServer server = builder.build();
    resources.add(server);
    return server.start();
  }

  /** Routes a completion request with {@code headers} over ext_proc; the headers set on the upstream request. */
  private Map<String, String> route(int port, Map<String, String> headers) throws InterruptedException {
    Object first = exchange(port, headers, "{\"model\":\"m\",\"prompt\":\"Hello\"}")
        .poll(DEADLINE.toSeconds(), TimeUnit.SECONDS);
    if (!(first instanceof ProcessingResponse response) || !response.hasRequestHeaders()) {
      throw new AssertionError("expected a request-headers response, got " + first);
    }
    Map<String, String> set = new LinkedHashMap<>();
    for (HeaderValueOption option
        : response.getRequestHeaders().getResponse().getHeaderMutation().getSetHeadersList()) {
      set.put(option.getHeader().getKey(), option.getHeader().getRawValue().toStringUtf8());
    }
    return set;
  }

  /** Sends the request headers and {@code body} on one ext_proc stream; the responses (or error) as they come. */
  private BlockingQueue<Object> exchange(int port, Map<String, String> headers, String body) {
    ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
    resources.add(() -> channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS));
    BlockingQueue<Object> responses = new LinkedBlockingQueue<>();
    StreamObserver<ProcessingRequest> requests = ExternalProcessorGrpc.newStub(channel)
        .withDeadlineAfter(DEADLINE.toSeconds(), TimeUnit.SECONDS)
        .process(new StreamObserver<>() {
          @Override
          public void onNext(ProcessingResponse value) {
            responses.add(value);
          }

          @Override
          public void onError(Throwable t) {
            responses.add(t);
          }

          @Override
          public void onCompleted() {}
        });
    HeaderMap.Builder map = HeaderMap.newBuilder()
        .addHeaders(header(":method", "POST"))
        .addHeaders(header(":path", "/v1/completions"))
        .addHeaders(header("content-type", "application/json"));
    headers.forEach((name, value) -> map.addHeaders(header(name, value)));
    requests.onNext(ProcessingRequest.newBuilder().setRequestHeaders(HttpHeaders.newBuilder().setHeaders(map)).build());
    requests.onNext(ProcessingRequest.newBuilder().setRequestBody(HttpBody.newBuilder()
        .setBody(ByteString.copyFromUtf8(body)).setEndOfStream(true)).build());
    requests.onCompleted();
    return responses;
  }

  private static HeaderValue header(String key, String value) {
    return HeaderValue.newBuilder().setKey(key).setRawValue(ByteString.copyFromUtf8(value)).build();
  }

  private static String hex(ByteString bytes) {
    return HexFormat.of().formatHex(bytes.toByteArray());
  }

  /** OTLP attributes by key, arrays as {@code [a, b]}. */
  private static Map<String, String> attributes(List<KeyValue> values) {
    Map<String, String> result = new LinkedHashMap<>();
    for (KeyValue value : values) {
      result.put(value.getKey(), switch (value.getValue().getValueCase()) {
        case STRING_VALUE -> value.getValue().getStringValue();
        case INT_VALUE -> Long.toString(value.getValue().getIntValue());
        case ARRAY_VALUE -> value.getValue().getArrayValue().getValuesList().stream()
            .map(v -> v.getStringValue()).collect(Collectors.joining(", ", "[", "]"));
        default -> value.getValue().toString();
      });
    }
    return result;
  }

  /** An OTLP gRPC trace collector keeping what it receives. */
  private static final class Collector extends TraceServiceGrpc.TraceServiceImplBase {
    final List<Span> spans = new CopyOnWriteArrayList<>();
    final List<String> serviceNames = new CopyOnWriteArrayList<>();

    @Override
    public void export(ExportTraceServiceRequest request, StreamObserver<ExportTraceServiceResponse> response) {
      request.getResourceSpansList().forEach(resource -> {
        serviceNames.add(attributes(resource.getResource().getAttributesList()).get("service.name"));
        resource.getScopeSpansList().forEach(scope -> spans.addAll(scope.getSpansList()));
      });
      response.onNext(ExportTraceServiceResponse.getDefaultInstance());
      response.onCompleted();
    }
  }

  /** Keeps the spans that ended. */
  private static final class RecordingProcessor implements SpanProcessor {
    private final List<ReadableSpan> ended = new CopyOnWriteArrayList<>();

    @Override
    public void onStart(Context parentContext, ReadWriteSpan span) {}

    @Override
    public boolean isStartRequired() {
      return false;
    }

    @Override
    public void onEnd(ReadableSpan span) {
      ended.add(span);
    }

    @Override
    public boolean isEndRequired() {
      return true;
    }

    List<String> names() {
      return ended.stream().map(ReadableSpan::getName).toList();
    }

    ReadableSpan ended(String name) {
      return ended.stream().filter(span -> span.getName().equals(name)).findFirst().orElse(null);
    }
  }
}
