package dev.epp.extproc;

import com.google.protobuf.ByteString;
import com.google.protobuf.ListValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.requestcontrol.ModelRewrites;
import dev.epp.api.requestcontrol.Objectives;
import dev.epp.metrics.export.EppMetrics;
import dev.epp.metrics.export.MetricsRegistry;
import dev.epp.scheduler.Director;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.scheduler.PluginRegistry;
import dev.epp.scheduler.EndpointPool;
import io.envoyproxy.envoy.config.core.v3.HeaderMap;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.config.core.v3.Metadata;
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
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.awaitility.Awaitility;

/**
 * A real ext_proc server (gRPC over Netty on 127.0.0.1, port 0, on the event loop as the EPP server runs it) with a
 * pool of fake pods, and a generated client acting as Envoy. Pods follow the Go hermetic tests:
 * {@code pod-<i>-rank-0} at {@code 192.168.1.<i+1>:8000}.
 */
final class ExtProcHarness implements AutoCloseable {

  static final String HEADER =
      "apiVersion: inference.networking.x-k8s.io/v1alpha1\nkind: EndpointPickerConfig\n";
  /** The Go hermetic tests' configuration (their prefix scorer scores 0 for these one-off prompts). */
  static final String HERMETIC_CONFIG = HEADER + """
      plugins:
      - type: queue-scorer
      - type: kv-cache-utilization-scorer
      - type: prefix-cache-scorer
      - type: lora-affinity-scorer
      - type: openai-parser
      schedulingProfiles:
      - name: default
        plugins:
        - pluginRef: queue-scorer
        - pluginRef: kv-cache-utilization-scorer
        - pluginRef: prefix-cache-scorer
        - pluginRef: lora-affinity-scorer
      parser:
        pluginRef: openai-parser
      """;
  static final Objectives OBJECTIVES = Objectives.of(Map.of(
      "sql-lora", 2, "batch-sheddable", -1, "my-model", 2, "direct-model", 2));
  /** The Go hermetic tests' InferenceModelRewrite {@code rewrite-test}. */
  static final ModelRewrites REWRITES = model -> model.equals("model-to-be-rewritten")
      ? new ModelRewrites.Rewrite("rewrite-test", "rewritten-model") : null;

  final EndpointPool pool = new EndpointPool();
  final EppMetrics metrics = EppMetrics.create(MetricsRegistry.create());
  final Director director;
  private final Server server;
  private ExtProcService service;
  private final ManagedChannel channel;

  ExtProcHarness(String config, int maxBodyBytes) {
    this(config, maxBodyBytes, ExtProcService.DEFAULT_STREAM_IDLE_TIMEOUT);
  }

  ExtProcHarness(String config, int maxBodyBytes, java.time.Duration idleTimeout) {
    this(config, service -> service.maxRequestBodyBytes(maxBodyBytes).streamIdleTimeout(idleTimeout));
  }

  /** A harness whose service has the {@code settings} on top of the harness's director and metrics. */
  ExtProcHarness(String config, UnaryOperator<ExtProcService.Builder> settings) {
    this(config, UnaryOperator.identity(), settings);
  }

  /** A harness whose director and service have the given settings on top of the harness's. */
  ExtProcHarness(String config, UnaryOperator<Director.Builder> directorSettings,
      UnaryOperator<ExtProcService.Builder> settings) {
    this(config, PluginRegistry.defaultRegistry(), directorSettings, settings);
  }

  /** A harness whose configuration's plugins come from {@code registry}. */
  ExtProcHarness(String config, PluginRegistry registry) {
    this(config, registry, UnaryOperator.identity(), UnaryOperator.identity());
  }

  private ExtProcHarness(String config, PluginRegistry registry, UnaryOperator<Director.Builder> directorSettings,
      UnaryOperator<ExtProcService.Builder> settings) {
    EndpointPickerConfig parsed =
        EndpointPickerConfig.loader().registry(registry).metrics(metrics).parse(config, "test.yaml");
    director = directorSettings.apply(Director.builder(parsed, pool)
        .objectives(OBJECTIVES)
        .modelRewrites(REWRITES))
        .build();
    server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .directExecutor() // as the EPP server runs it: callbacks on the event loop, no thread per stream
        .addService(service = settings.apply(ExtProcService.builder(director)).build())
        .build();
    try {
      server.start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    channel = connect();
  }

  ExtProcHarness(String config) {
    this(config, ExtProcService.DEFAULT_MAX_REQUEST_BODY_BYTES);
  }

  void pod(int idx, int queue, double kv, String... adapters) {
    String name = "pod-" + idx + "-rank-0";
    pool.upsert(Endpoint.of(name, "192.168.1." + (idx + 1), 8000));
    pool.updateMetrics(name, EndpointMetrics.builder().waitingQueueSize(queue).kvCacheUsage(kv)
        .activeModels(Set.of(adapters)).updatedNanos(System.nanoTime()).build());
  }

  /** Sends {@code requests} on one stream, half-closes, and returns every response until the server completes. */
  List<ProcessingResponse> exchange(List<ProcessingRequest> requests) {
    Exchange exchange = open();
    requests.forEach(exchange::send);
    exchange.halfClose();
    return exchange.await();
  }

  Exchange open() {
    return exchangeOn(channel);
  }

  /** The harness's own connection. */
  ManagedChannel channel() {
    return channel;
  }

  /** A stream on {@code over}, e.g. a connection of its own from {@link #connect()}. */
  static Exchange exchangeOn(ManagedChannel over) {
    Exchange exchange = new Exchange();
    exchange.requests = ExternalProcessorGrpc.newStub(over).process(exchange);
    return exchange;
  }

  /** A new connection to the server; the caller shuts it down. */
  ManagedChannel connect() {
    return NettyChannelBuilder.forAddress("127.0.0.1", server.getPort()).usePlaintext().directExecutor().build();
  }

  /** The EPP's metrics in the text format, as {@code /metrics} serves them. */
  String scrape() {
    StringWriter out = new StringWriter();
    try {
      metrics.registry().writeTo(out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toString();
  }

  @Override
  public void close() throws InterruptedException {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    service.close();
    director.close();
  }

  static ProcessingRequest requestHeaders(Map<String, String> headers, boolean endOfStream) {
    return ProcessingRequest.newBuilder()
        .setRequestHeaders(HttpHeaders.newBuilder().setHeaders(headerMap(headers)).setEndOfStream(endOfStream))
        .build();
  }

  static ProcessingRequest requestBody(String body, boolean endOfStream) {
    return ProcessingRequest.newBuilder()
        .setRequestBody(HttpBody.newBuilder().setBody(ByteString.copyFromUtf8(body)).setEndOfStream(endOfStream))
        .build();
  }

  static ProcessingRequest responseHeaders(Map<String, String> headers) {
    return ProcessingRequest.newBuilder()
        .setResponseHeaders(HttpHeaders.newBuilder().setHeaders(headerMap(headers)))
        .build();
  }

  static ProcessingRequest responseBody(String body, boolean endOfStream) {
    return ProcessingRequest.newBuilder()
        .setResponseBody(HttpBody.newBuilder().setBody(ByteString.copyFromUtf8(body)).setEndOfStream(endOfStream))
        .build();
  }

  /** The request as Envoy sends the subset hint: with {@code metadata_context}. */
  static ProcessingRequest withSubset(ProcessingRequest request, String... endpoints) {
    ListValue.Builder list = ListValue.newBuilder();
    for (String endpoint : endpoints) {
      list.addValues(Value.newBuilder().setStringValue(endpoint));
    }
    Struct hint = Struct.newBuilder()
        .putFields("x-gateway-destination-endpoint-subset", Value.newBuilder().setListValue(list).build())
        .build();
    return request.toBuilder()
        .setMetadataContext(Metadata.newBuilder().putFilterMetadata("envoy.lb.subset_hint", hint))
        .build();
  }

  /** The Go hermetic tests' request: headers (objective, optional rewrite) then one JSON body with end of stream. */
  static List<ProcessingRequest> llmRequest(String prompt, String model, String rewrite) {
    Map<String, String> headers = new java.util.LinkedHashMap<>();
    headers.put(":path", "/v1/completions");
    headers.put("hi", "mom");
    headers.put("x-request-id", "test-request-id");
    headers.put("x-gateway-inference-objective", model);
    if (rewrite != null) {
      headers.put("x-gateway-model-name-rewrite", rewrite);
    }
    return List.of(requestHeaders(headers, false), requestBody(completion(model, prompt), true));
  }

  static String completion(String model, String prompt) {
    return "{\"max_tokens\":100,\"model\":\"" + model + "\",\"prompt\":\"" + prompt + "\",\"temperature\":0}";
  }

  private static HeaderMap headerMap(Map<String, String> headers) {
    HeaderMap.Builder map = HeaderMap.newBuilder();
    headers.forEach((k, v) -> map.addHeaders(HeaderValue.newBuilder().setKey(k).setRawValue(ByteString.copyFromUtf8(v))));
    return map.build();
  }

  /** One stream as the client sees it. */
  static final class Exchange implements StreamObserver<ProcessingResponse> {
    private final List<ProcessingResponse> responses = Collections.synchronizedList(new ArrayList<>());
    private final CompletableFuture<List<ProcessingResponse>> done = new CompletableFuture<>();
    StreamObserver<ProcessingRequest> requests;

    void send(ProcessingRequest request) {
      requests.onNext(request);
    }

    void halfClose() {
      requests.onCompleted();
    }

    void cancel() {
      requests.onError(new RuntimeException("client went away"));
    }

    List<ProcessingResponse> await() {
      try {
        return done.get(10, TimeUnit.SECONDS);
      } catch (Exception e) {
        throw new AssertionError("stream did not complete; got " + responses, e);
      }
    }

    /** The responses so far. */
    List<ProcessingResponse> received() {
      return List.copyOf(responses);
    }

    /** Whether the server has ended the stream. */
    boolean ended() {
      return done.isDone();
    }

    /** Waits until at least {@code count} responses arrived. */
    List<ProcessingResponse> awaitResponses(int count) {
      Awaitility.await(count + " responses").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(1))
          .until(() -> {
            if (responses.size() < count && done.isDone()) {
              throw new AssertionError("the stream ended after " + responses.size() + " responses: " + responses);
            }
            return responses.size() >= count;
          });
      return List.copyOf(responses);
    }

    @Override
    public void onNext(ProcessingResponse response) {
      responses.add(response);
    }

    @Override
    public void onError(Throwable t) {
      done.completeExceptionally(t);
    }

    @Override
    public void onCompleted() {
      done.complete(List.copyOf(responses));
    }
  }
}
