package dev.epp.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.protobuf.ByteString;
import com.sun.net.httpserver.HttpServer;
import dev.epp.api.Endpoint;
import dev.epp.api.EndpointDiscovery;
import dev.epp.api.EndpointStore;
import dev.epp.discovery.FileDiscovery;
import dev.epp.discovery.StaticDiscovery;
import dev.epp.metrics.export.EppMetrics;
import dev.epp.scheduler.EndpointPickerConfig;
import io.envoyproxy.envoy.config.core.v3.HeaderMap;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.service.ext_proc.v3.ExternalProcessorGrpc;
import io.envoyproxy.envoy.service.ext_proc.v3.HttpBody;
import io.envoyproxy.envoy.service.ext_proc.v3.HttpHeaders;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingRequest;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingResponse;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link EppServer} over real loopback ports: gRPC ext_proc and health, HTTP model servers and /metrics. */
class EppServerTest {

  private static final Duration DEADLINE = Duration.ofSeconds(20);

  @TempDir Path dir;
  private final List<AutoCloseable> resources = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = resources.size() - 1; i >= 0; i--) {
      resources.get(i).close();
    }
  }

  @Test
  void readinessFollowsFreshMetricsWhileLivenessStaysServing() throws Exception {
    Path endpoints = dir.resolve("endpoints.txt");
    Files.writeString(endpoints, "# no model server yet\n");
    EppServer server = start(plaintext(new FileDiscovery(endpoints, Duration.ofMillis(50)))
        .metricsStalenessThreshold(Duration.ofMillis(500)));
    ManagedChannel health = plaintextChannel(server.healthPort());

    assertEquals(ServingStatus.SERVING, check(health, "liveness"));
    for (String service : List.of("", "readiness", "inference-extension", ExternalProcessorGrpc.SERVICE_NAME)) {
      assertEquals(ServingStatus.NOT_SERVING, check(health, service), service);
    }
    StatusRuntimeException unknown = assertThrows(StatusRuntimeException.class, () -> check(health, "other"));
    assertEquals(Status.Code.NOT_FOUND, unknown.getStatus().getCode());

    ModelServer model = modelServer(0, 0.1);
    Files.writeString(endpoints, "vllm-a-rank-0 127.0.0.1:" + model.port() + "\n");
    awaitStatus(health, "readiness", ServingStatus.SERVING);
    for (String service : EppServer.HEALTH_SERVICES) {
      assertEquals(ServingStatus.SERVING, check(health, service), service);
    }

    model.close(); // its metrics go stale
    awaitStatus(health, "readiness", ServingStatus.NOT_SERVING);
    assertEquals(ServingStatus.NOT_SERVING, check(health, ""));
    assertEquals(ServingStatus.SERVING, check(health, "liveness"));
  }

  @Test
  void discoverySyncedReadinessIsServingWithoutEndpoints() throws Exception {
    EppServer server = start(plaintext(new StaticDiscovery(List.of())).readiness(EppServer.Readiness.DISCOVERY_SYNCED));
    awaitStatus(plaintextChannel(server.healthPort()), "readiness", ServingStatus.SERVING);
  }

  @Test
  void periodicWorkRunsOnTheSuppliedSchedulerWhichCloseDoesNotShutDown() throws Exception {
    List<String> ranOn = new java.util.concurrent.CopyOnWriteArrayList<>();
    ScheduledThreadPoolExecutor scheduler = new ScheduledThreadPoolExecutor(1, r -> new Thread(r, "embedder")) {
      @Override
      protected void beforeExecute(Thread t, Runnable r) {
        ranOn.add(t.getName());
      }
    };
    scheduler.setRemoveOnCancelPolicy(true);
    try {
      EppServer server = plaintext(new StaticDiscovery(List.of()))
          .readiness(EppServer.Readiness.DISCOVERY_SYNCED).scheduler(scheduler).build().start();
      try {
        awaitStatus(plaintextChannel(server.healthPort()), "readiness", ServingStatus.SERVING);
        assertTrue(ranOn.stream().allMatch("embedder"::equals) && !ranOn.isEmpty(), ranOn.toString());
      } finally {
        server.close();
      }
      assertFalse(scheduler.isShutdown());
      assertTrue(scheduler.getQueue().stream().allMatch(task -> ((java.util.concurrent.Future<?>) task).isCancelled()),
          "the server's work is cancelled");
    } finally {
      scheduler.shutdownNow();
    }
  }

  @Test
  void routesToTheLeastLoadedScrapedEndpointAndExportsPoolMetrics() throws Exception {
    ModelServer busy = modelServer(12, 0.9);
    ModelServer idle = modelServer(0, 0.05);
    EppServer server = start(plaintext(new StaticDiscovery(List.of(
            Endpoint.of("busy-rank-0", "127.0.0.1", busy.port()),
            Endpoint.of("idle-rank-0", "127.0.0.1", idle.port()))))
        .poolName("test-pool")
        .refreshPrometheusMetricsInterval(Duration.ofMillis(100)));

    String ready = "inference_pool_ready_pods{name=\"test-pool\"} 2";
    await(() -> metricsPage(server.metricsPort()).lines().anyMatch(ready::equals), "metrics page shows " + ready);
    String page = metricsPage(server.metricsPort());
    assertTrue(page.contains(
        "inference_pool_per_pod_queue_size{model_server_pod=\"busy-rank-0\",name=\"test-pool\"} 12"), page);

    assertEquals("127.0.0.1:" + idle.port(), route(plaintextChannel(server.grpcPort())));
  }

  @ParameterizedTest
  @ValueSource(strings = {"killed", "hung"})
  void stopsRoutingToADeadModelServerThatHoldsTheRequestsPrefix(String fault) throws Exception {
    ModelServer a = modelServer(0, 0.1);
    ModelServer b = modelServer(0, 0.1);
    Path endpoints = dir.resolve("endpoints.txt");
    Files.writeString(endpoints, "a-rank-0 127.0.0.1:" + a.port() + "\nb-rank-0 127.0.0.1:" + b.port() + "\n");
    // a configuration of its own: the prefix index must not remember other tests' endpoints of the same names
    FileDiscovery discovery = new FileDiscovery(endpoints, Duration.ofMillis(50));
    EppServer server = start(plaintext(discovery)
        .poolName("p")
        .refreshPrometheusMetricsInterval(Duration.ofMillis(50))); // staleness: the default 2 s
    await(() -> metricsPage(server.metricsPort()).contains("inference_pool_ready_pods{name=\"p\"} 2"),
        "both model servers are ready");
    ManagedChannel channel = plaintextChannel(server.grpcPort());

    String prompt = "A prompt long enough to fill a few prefix-cache blocks of sixty-four characters each.";
    String cached = route(channel, prompt); // the prompt's prefix is now cached there: the prefix scorer prefers it
    assertEquals(cached, route(channel, prompt));
    ModelServer dead = cached.equals("127.0.0.1:" + a.port()) ? a : b;
    ModelServer live = dead == a ? b : a;
    if (fault.equals("killed")) {
      dead.close();
    } else {
      dead.hang();
    }
    await(() -> metricsPage(server.metricsPort()).contains("inference_pool_ready_pods{name=\"p\"} 1"),
        "the " + fault + " model server's metrics are stale");

    for (int i = 0; i < 20; i++) {
      assertEquals("127.0.0.1:" + live.port(), route(channel, prompt), "request " + i + " after the fault");
    }
  }

  @Test
  void readyPodsCountsTheEndpointOnceReadinessIsServingWithoutWaitingForTheRefreshInterval() throws Exception {
    ModelServer model = modelServer(0, 0.1);
    EppServer server = start(plaintext(new StaticDiscovery(List.of(
            Endpoint.of("vllm-a-rank-0", "127.0.0.1", model.port()))))
        .poolName("test-pool")
        .refreshPrometheusMetricsInterval(Duration.ofDays(1)));

    awaitStatus(plaintextChannel(server.healthPort()), "readiness", ServingStatus.SERVING);
    assertEquals(List.of("inference_pool_ready_pods{name=\"test-pool\"} 1"),
        grep(metricsPage(server.metricsPort()), "inference_pool_ready_pods"));
  }

  @Test
  void grpcStreamMetricsCountRealStreamsOnlyWhenEnabled() throws Exception {
    ModelServer model = modelServer(0, 0.1);
    EppServer off = start(plaintext(new StaticDiscovery(List.of(
        Endpoint.of("vllm-a-rank-0", "127.0.0.1", model.port())))));
    route(plaintextChannel(off.grpcPort()));
    assertFalse(metricsPage(off.metricsPort()).contains("extproc_stream"), "absent by default");

    EppServer on = start(plaintext(new StaticDiscovery(List.of(
            Endpoint.of("vllm-a-rank-0", "127.0.0.1", model.port()))))
        .grpcStreamMetrics(true));
    ManagedChannel channel = plaintextChannel(on.grpcPort());
    route(channel);
    route(channel);
    // the client half-closes each stream after its answer: both end OK
    await(() -> grep(metricsPage(on.metricsPort()), "llm_d_epp_extproc_streams_total")
        .equals(List.of("llm_d_epp_extproc_streams_total{code=\"OK\"} 2")), "two streams ended OK");
    String page = metricsPage(on.metricsPort());
    assertEquals(List.of("llm_d_epp_extproc_streams_inflight 0"), grep(page, "llm_d_epp_extproc_streams_inflight"));
    assertTrue(page.contains("\nllm_d_epp_extproc_stream_duration_seconds_count 2\n"), page);
  }

  @Test
  void idleMetricsPageShowsThePoolAndNoUnusedPluginSeries() throws Exception {
    ModelServer model = modelServer(0, 0.1);
    EppServer server = start(plaintext(new StaticDiscovery(List.of(
            Endpoint.of("vllm-a-rank-0", "127.0.0.1", model.port()))))
        .poolName("test-pool")
        .refreshPrometheusMetricsInterval(Duration.ofMillis(100)));
    String ready = "inference_pool_ready_pods{name=\"test-pool\"} 1";
    await(() -> metricsPage(server.metricsPort()).lines().anyMatch(ready::equals), "metrics page shows " + ready);

    // curl -s localhost:9090/metrics | grep '^inference_'
    List<String> lines = grep(metricsPage(server.metricsPort()), "inference_");
    assertTrue(lines.get(0).startsWith("inference_extension_info{build_ref=\""), lines.get(0));
    assertEquals(List.of(
        "inference_extension_prefix_indexer_size 0",
        "inference_pool_average_kv_cache_utilization{name=\"test-pool\"} 0.1",
        "inference_pool_average_queue_size{name=\"test-pool\"} 0",
        "inference_pool_average_running_requests{name=\"test-pool\"} 1",
        "inference_pool_per_pod_queue_size{model_server_pod=\"vllm-a-rank-0\",name=\"test-pool\"} 0",
        ready), lines.subList(1, lines.size()));
  }

  @Test
  void selfSignedTlsServesExtProcAndHealthOnTheSamePort() throws Exception {
    ModelServer model = modelServer(0, 0.1);
    EppServer server = start(EppServer.builder(config(), new StaticDiscovery(List.of(
            Endpoint.of("vllm-rank-0", "127.0.0.1", model.port()))))
        .grpcPort(0).healthPort(0).metricsPort(0)
        .healthChecking(true));
    ManagedChannel channel = channel(NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort())
        .sslContext(GrpcSslContexts.forClient().trustManager(InsecureTrustManagerFactory.INSTANCE).build()));

    assertEquals("127.0.0.1:" + model.port(), route(channel));
    awaitStatus(channel, ExternalProcessorGrpc.SERVICE_NAME, ServingStatus.SERVING);

    ManagedChannel plaintext = plaintextChannel(server.grpcPort());
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> route(plaintext));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
  }

  @ParameterizedTest
  @ValueSource(strings = {"PRIVATE KEY", "RSA PRIVATE KEY"})
  void tlsFromACertificateDirectoryIsVerifiedByAClientTrustingIt(String keyFormat) throws Exception {
    Path certs = Files.createDirectory(dir.resolve("certs"));
    KeyStore.PrivateKeyEntry entry = keytoolKeyPair("ip:127.0.0.1");
    Files.writeString(certs.resolve("tls.crt"), pem("CERTIFICATE", entry.getCertificate().getEncoded()));
    byte[] pkcs8 = entry.getPrivateKey().getEncoded();
    // a PKCS#1 key is the content of the OCTET STRING ending the PKCS#8 wrapper: bytes 26.. of an RSA 2048 key
    byte[] key = keyFormat.equals("PRIVATE KEY") ? pkcs8 : Arrays.copyOfRange(pkcs8, 26, pkcs8.length);
    Files.writeString(certs.resolve("tls.key"), pem(keyFormat, key));
    ModelServer model = modelServer(0, 0.1);
    EppServer server = start(EppServer.builder(config(), new StaticDiscovery(List.of(
            Endpoint.of("vllm-rank-0", "127.0.0.1", model.port()))))
        .grpcPort(0).healthPort(0).metricsPort(0)
        .certPath(certs));
    ManagedChannel channel = channel(NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort())
        .sslContext(GrpcSslContexts.forClient()
            .trustManager((X509Certificate) entry.getCertificate()).build()));

    assertEquals("127.0.0.1:" + model.port(), route(channel));
  }

  @Test
  void aChangedCertificateDirectoryIsReloaded() throws Exception {
    Path certs = Files.createDirectory(dir.resolve("certs"));
    KeyStore.PrivateKeyEntry first = keytoolKeyPair("ip:127.0.0.1");
    KeyStore.PrivateKeyEntry second = keytoolKeyPair("ip:127.0.0.1");
    Files.writeString(certs.resolve("tls.crt"), pem("CERTIFICATE", first.getCertificate().getEncoded()));
    Files.writeString(certs.resolve("tls.key"), pem("PRIVATE KEY", first.getPrivateKey().getEncoded()));
    ModelServer model = modelServer(0, 0.1);
    EppServer server = start(EppServer.builder(config(), new StaticDiscovery(List.of(
            Endpoint.of("vllm-rank-0", "127.0.0.1", model.port()))))
        .grpcPort(0).healthPort(0).metricsPort(0)
        .certPath(certs)
        .certReload(true));
    assertEquals("127.0.0.1:" + model.port(), route(trusting(server, first)));

    Files.writeString(certs.resolve("tls.key"), pem("PRIVATE KEY", second.getPrivateKey().getEncoded()));
    Files.writeString(certs.resolve("tls.crt"), pem("CERTIFICATE", second.getCertificate().getEncoded()));
    Awaitility.await("the new certificate is served").atMost(DEADLINE).pollInterval(Duration.ofMillis(100))
        .ignoreException(StatusRuntimeException.class)
        .untilAsserted(() -> assertEquals("127.0.0.1:" + model.port(), route(trusting(server, second))));
    StatusRuntimeException old = assertThrows(StatusRuntimeException.class, () -> route(trusting(server, first)));
    assertEquals(Status.Code.UNAVAILABLE, old.getStatus().getCode());
  }

  /** A new channel to the server's ext_proc port that trusts only {@code entry}'s certificate. */
  private ManagedChannel trusting(EppServer server, KeyStore.PrivateKeyEntry entry) throws Exception {
    return channel(NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort())
        .sslContext(GrpcSslContexts.forClient().trustManager((X509Certificate) entry.getCertificate()).build()));
  }

  @Test
  void tlsFromAnOpensslEcKeyInSec1Format() throws Exception {
    // made with: openssl ecparam -genkey -name prime256v1 -out tls.key (EC PARAMETERS, then EC PRIVATE KEY)
    Path certs = Files.createDirectory(dir.resolve("certs"));
    for (String file : List.of("tls.crt", "tls.key")) {
      try (InputStream in = getClass().getResourceAsStream("sec1-ec/" + file)) {
        Files.copy(in, certs.resolve(file));
      }
    }
    ModelServer model = modelServer(0, 0.1);
    EppServer server = start(EppServer.builder(config(), new StaticDiscovery(List.of(
            Endpoint.of("vllm-rank-0", "127.0.0.1", model.port()))))
        .grpcPort(0).healthPort(0).metricsPort(0)
        .certPath(certs));
    ManagedChannel channel = channel(NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort())
        .sslContext(GrpcSslContexts.forClient().trustManager(InsecureTrustManagerFactory.INSTANCE).build()));

    assertEquals("127.0.0.1:" + model.port(), route(channel));
  }

  @Test
  void aKeyThatDoesNotMatchTheCertificateFailsStart() throws Exception {
    Path certs = Files.createDirectory(dir.resolve("certs"));
    try (InputStream in = getClass().getResourceAsStream("sec1-ec/tls.crt")) {
      Files.copy(in, certs.resolve("tls.crt"));
    }
    KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
    generator.initialize(256);
    byte[] otherKey = generator.generateKeyPair().getPrivate().getEncoded();
    Files.writeString(certs.resolve("tls.key"), pem("PRIVATE KEY", otherKey));
    EppServer server = plaintext(new StaticDiscovery(List.of())).secureServing(true).certPath(certs).build();

    EppServer.StartException e = assertThrows(EppServer.StartException.class, server::start);
    assertEquals(certs.resolve("tls.key") + " is not the private key of the first certificate in "
        + certs.resolve("tls.crt"), e.getMessage());
  }

  @Test
  void aMissingCertificateDirectoryFailsStartBeforeDiscovery() {
    Path missing = dir.resolve("missing");
    RecordingDiscovery discovery = new RecordingDiscovery();
    EppServer server = plaintext(discovery).secureServing(true).certPath(missing).build();

    EppServer.StartException e = assertThrows(EppServer.StartException.class, server::start);
    assertTrue(e.getMessage().startsWith("cannot read the TLS certificate " + missing.resolve("tls.crt")),
        e.getMessage());
    assertFalse(discovery.started);
    assertThrows(IllegalStateException.class, server::start);
  }

  @Test
  void aPortInUseFailsStartWithOneLineAndReleasesWhatWasBound() throws Exception {
    EppServer first = start(plaintext(new StaticDiscovery(List.of())));
    RecordingDiscovery discovery = new RecordingDiscovery();
    EppServer second = plaintext(discovery).healthPort(first.healthPort()).build();

    EppServer.StartException e = assertThrows(EppServer.StartException.class, second::start);
    assertTrue(e.getMessage().startsWith("cannot listen for gRPC health on port " + first.healthPort() + ": "),
        e.getMessage());
    assertTrue(e.getMessage().contains("in use"), e.getMessage());
    assertFalse(e.getMessage().contains("\n"), e.getMessage());
    assertTrue(discovery.closed, "discovery is stopped again");
  }

  @Test
  void closeReleasesEveryPort() throws Exception {
    EppServer server = start(plaintext(new StaticDiscovery(List.of())));
    int[] ports = {server.grpcPort(), server.healthPort(), server.metricsPort()};
    server.close();
    server.close(); // idempotent

    for (int port : ports) {
      try (ServerSocket socket = new ServerSocket()) {
        socket.bind(new InetSocketAddress(port));
      }
    }
    EppServer again = start(plaintext(new StaticDiscovery(List.of()))
        .grpcPort(ports[0]).healthPort(ports[1]).metricsPort(ports[2]));
    assertEquals(ports[0], again.grpcPort());
    assertThrows(IllegalStateException.class, server::grpcPort);
  }

  @Test
  void closeRefusesNewStreamsAndLetsStreamsInFlightFinishWhileStayingLive() throws Exception {
    ModelServer model = modelServer(0, 0.1);
    EppServer server = start(plaintext(new StaticDiscovery(List.of(
            Endpoint.of("vllm-rank-0", "127.0.0.1", model.port()))))
        .drainTimeout(Duration.ofMinutes(5)));
    ManagedChannel health = plaintextChannel(server.healthPort());
    int grpcPort = server.grpcPort();
    BlockingQueue<Object> responses = new LinkedBlockingQueue<>();
    StreamObserver<ProcessingRequest> inFlight = openRequest(plaintextChannel(grpcPort), responses);
    Object headers = responses.poll(DEADLINE.toSeconds(), TimeUnit.SECONDS);
    assertTrue(headers instanceof ProcessingResponse r && r.hasRequestHeaders(), String.valueOf(headers));

    Thread closer = new Thread(server::close, "closer");
    closer.start();
    awaitStatus(health, "readiness", ServingStatus.NOT_SERVING);
    await(() -> {
      try {
        route(plaintextChannel(grpcPort));
        return false;
      } catch (StatusRuntimeException e) {
        return e.getStatus().getCode() == Status.Code.UNAVAILABLE;
      } catch (Exception e) {
        throw new AssertionError(e);
      }
    }, "ext_proc port refuses new streams");
    for (String service : EppServer.HEALTH_SERVICES) { // a draining EPP is alive: Kubernetes must not restart it
      assertEquals(service.equals("liveness") ? ServingStatus.SERVING : ServingStatus.NOT_SERVING,
          check(health, service), service);
    }

    // the stream opened before close() still gets its response phase answered
    inFlight.onNext(ProcessingRequest.newBuilder().setResponseHeaders(HttpHeaders.newBuilder()
        .setHeaders(HeaderMap.newBuilder().addHeaders(header(":status", "200")))).build());
    Object answer;
    do { // skip the request body echo that followed the headers response
      answer = responses.poll(DEADLINE.toSeconds(), TimeUnit.SECONDS);
    } while (answer instanceof ProcessingResponse r && r.hasRequestBody());
    assertTrue(answer instanceof ProcessingResponse r && r.hasResponseHeaders(), String.valueOf(answer));
    inFlight.onCompleted();
    closer.join(DEADLINE.toMillis()); // far less than the five-minute drain: close() returns when the stream ends
    assertFalse(closer.isAlive(), "close() returned once the last stream ended");
  }

  @Test
  void closeRejectsRequestsWaitingInFlowControlAndDrainsTheRoutedOne() throws Exception {
    ModelServer model = modelServer(0, 0.1);
    EndpointPickerConfig oneAtATime = EndpointPickerConfig.loader().metrics(EppMetrics.create()).parse("""
        apiVersion: llm-d.ai/v1alpha1
        kind: EndpointPickerConfig
        featureGates: [flowControl]
        plugins:
        - type: inflight-load-producer
        - name: one
          type: concurrency-detector
          parameters:
            maxConcurrency: 1
        flowControl:
          saturationDetector:
            pluginRef: one
        """, "one.yaml");
    EppServer server = start(EppServer.builder(oneAtATime, new StaticDiscovery(List.of(
            Endpoint.of("vllm-rank-0", "127.0.0.1", model.port()))))
        .secureServing(false).grpcPort(0).healthPort(0).metricsPort(0).drainTimeout(Duration.ofMinutes(5)));
    ManagedChannel channel = plaintextChannel(server.grpcPort());
    BlockingQueue<Object> routed = new LinkedBlockingQueue<>();
    StreamObserver<ProcessingRequest> inFlight = openRequest(channel, routed);
    Object headers = routed.poll(DEADLINE.toSeconds(), TimeUnit.SECONDS);
    assertTrue(headers instanceof ProcessingResponse r && r.hasRequestHeaders(), String.valueOf(headers));
    BlockingQueue<Object> waiting = new LinkedBlockingQueue<>();
    openRequest(channel, waiting);
    await(() -> metricsPage(server.metricsPort()).lines()
        .anyMatch(line -> line.startsWith("llm_d_epp_flow_control_queue_size{") && line.endsWith(" 1")),
        "the second request waits in flow control");

    Thread closer = new Thread(server::close, "closer"); // what SIGTERM does
    closer.start();
    Object rejected = waiting.poll(DEADLINE.toSeconds(), TimeUnit.SECONDS);
    assertTrue(rejected instanceof ProcessingResponse r && r.getImmediateResponse().getStatus().getCodeValue() == 503
        && r.getImmediateResponse().getHeaders().getSetHeaders(0).getHeader().getRawValue().toStringUtf8()
            .equals("rejected-shutting-down"), String.valueOf(rejected));
    inFlight.onNext(ProcessingRequest.newBuilder().setResponseHeaders(HttpHeaders.newBuilder()
        .setHeaders(HeaderMap.newBuilder().addHeaders(header(":status", "200")))).build());
    Object answer;
    do { // skip the request body echo that followed the headers response
      answer = routed.poll(DEADLINE.toSeconds(), TimeUnit.SECONDS);
    } while (answer instanceof ProcessingResponse r && r.hasRequestBody());
    assertTrue(answer instanceof ProcessingResponse r && r.hasResponseHeaders(), String.valueOf(answer));
    inFlight.onCompleted();
    closer.join(DEADLINE.toMillis());
    assertFalse(closer.isAlive(), "close() returned once the routed stream ended");
  }

  /** Opens an ext_proc stream and sends one completion request; the responses go to {@code responses}. */
  private static StreamObserver<ProcessingRequest> openRequest(ManagedChannel channel, BlockingQueue<Object> responses) {
    StreamObserver<ProcessingRequest> requests = ExternalProcessorGrpc.newStub(channel)
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
          public void onCompleted() {
            responses.add("completed");
          }
        });
    requests.onNext(ProcessingRequest.newBuilder().setRequestHeaders(HttpHeaders.newBuilder()
        .setHeaders(HeaderMap.newBuilder().addHeaders(header(":method", "POST")))).build());
    requests.onNext(ProcessingRequest.newBuilder().setRequestBody(HttpBody.newBuilder()
        .setBody(ByteString.copyFromUtf8("{\"model\":\"m\",\"prompt\":\"Hi\"}")).setEndOfStream(true)).build());
    return requests;
  }

  @Test
  void refusesAConfigurationWhoseMetricsItCannotServe() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> EppServer.builder(EndpointPickerConfig.defaults(), new StaticDiscovery(List.of())));
    assertTrue(e.getMessage().contains("EndpointPickerConfig.loader().metrics(EppMetrics.create())"), e.getMessage());
  }

  // ---- helpers --------------------------------------------------------------------------------------------------

  /** The default configuration, recording to metrics of its own, for one server. */
  private static EndpointPickerConfig config() {
    return EndpointPickerConfig.loader().metrics(EppMetrics.create()).defaults();
  }

  private EppServer.Builder plaintext(EndpointDiscovery discovery) {
    return EppServer.builder(config(), discovery).secureServing(false).grpcPort(0).healthPort(0).metricsPort(0)
        .drainTimeout(Duration.ofSeconds(1));
  }

  private EppServer start(EppServer.Builder builder) {
    EppServer server = builder.build();
    resources.add(server);
    return server.start();
  }

  private ModelServer modelServer(int waiting, double kvUsage) throws IOException {
    ModelServer server = new ModelServer(waiting, kvUsage);
    resources.add(server);
    return server;
  }

  private ManagedChannel plaintextChannel(int port) {
    return channel(NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext());
  }

  private ManagedChannel channel(NettyChannelBuilder builder) {
    ManagedChannel channel = builder.build();
    resources.add(() -> {
      channel.shutdownNow();
      channel.awaitTermination(5, TimeUnit.SECONDS);
    });
    return channel;
  }

  private static ServingStatus check(ManagedChannel channel, String service) {
    return HealthGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
        .check(HealthCheckRequest.newBuilder().setService(service).build()).getStatus();
  }

  /** Watches {@code service} until it reports {@code expected}, failing after {@link #DEADLINE}. */
  private static void awaitStatus(ManagedChannel channel, String service, ServingStatus expected) throws Exception {
    BlockingQueue<Object> updates = new LinkedBlockingQueue<>();
    Context.CancellableContext watch = Context.current().withCancellation();
    try {
      watch.run(() -> HealthGrpc.newStub(channel).watch(HealthCheckRequest.newBuilder().setService(service).build(),
          new StreamObserver<HealthCheckResponse>() {
            @Override
            public void onNext(HealthCheckResponse value) {
              updates.add(value.getStatus());
            }

            @Override
            public void onError(Throwable t) {
              updates.add(t);
            }

            @Override
            public void onCompleted() {
              updates.add("completed");
            }
          }));
      long deadline = System.nanoTime() + DEADLINE.toNanos();
      Object last = null;
      while (last != expected) {
        last = updates.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
        if (last == null || last instanceof Throwable || last.equals("completed")) {
          fail("health of '" + service + "' never became " + expected + "; last update: " + last);
        }
      }
    } finally {
      watch.cancel(null);
    }
  }

  /** Sends one chat request through ext_proc and returns the destination header of the headers response. */
  private static String route(ManagedChannel channel) throws Exception {
    return route(channel, "Hello");
  }

  /** {@link #route(ManagedChannel)} with {@code prompt} as the user's message. */
  static String route(ManagedChannel channel, String prompt) throws Exception {
    ProcessingResponse response = headersResponse(channel, prompt);
    for (HeaderValueOption option
        : response.getRequestHeaders().getResponse().getHeaderMutation().getSetHeadersList()) {
      if (option.getHeader().getKey().equals("x-gateway-destination-endpoint")) {
        return option.getHeader().getRawValue().toStringUtf8();
      }
    }
    throw new AssertionError("no destination header in " + response);
  }

  /** Sends one chat request with {@code prompt} through ext_proc and returns the request-headers response. */
  static ProcessingResponse headersResponse(ManagedChannel channel, String prompt) throws Exception {
    BlockingQueue<Object> responses = new LinkedBlockingQueue<>();
    StreamObserver<ProcessingRequest> requests = ExternalProcessorGrpc.newStub(channel)
        .withDeadlineAfter(20, TimeUnit.SECONDS)
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
    requests.onNext(ProcessingRequest.newBuilder().setRequestHeaders(HttpHeaders.newBuilder()
        .setHeaders(HeaderMap.newBuilder()
            .addHeaders(header(":method", "POST"))
            .addHeaders(header(":path", "/v1/chat/completions"))
            .addHeaders(header("content-type", "application/json"))))
        .build());
    requests.onNext(ProcessingRequest.newBuilder().setRequestBody(HttpBody.newBuilder()
        .setBody(ByteString.copyFromUtf8(
            "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"" + prompt + "\"}]}"))
        .setEndOfStream(true))
        .build());
    Object first = responses.poll(DEADLINE.toSeconds(), TimeUnit.SECONDS);
    requests.onCompleted();
    if (first instanceof StatusRuntimeException e) {
      throw e;
    }
    if (!(first instanceof ProcessingResponse response) || !response.hasRequestHeaders()) {
      throw new AssertionError("expected a request-headers response, got " + first);
    }
    return response;
  }

  private static HeaderValue header(String key, String value) {
    return HeaderValue.newBuilder().setKey(key).setRawValue(ByteString.copyFromUtf8(value)).build();
  }

  static String metricsPage(int port) {
    return httpGet(port, "/metrics");
  }

  /** The body of {@code GET path} on the metrics port, which must answer 200. */
  static String httpGet(int port, String path) {
    try {
      HttpResponse<String> response = HttpClient.newHttpClient().send(
          HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(DEADLINE).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(200, response.statusCode());
      return response.body();
    } catch (IOException e) {
      throw new AssertionError(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  /** {@code grep '^<prefix>'}. */
  private static List<String> grep(String page, String prefix) {
    return page.lines().filter(line -> line.startsWith(prefix)).toList();
  }

  /** Re-evaluates {@code condition} until it holds, failing after {@link #DEADLINE}. */
  private static void await(BooleanSupplier condition, String what) {
    Awaitility.await("the " + what).atMost(DEADLINE).pollInterval(Duration.ofMillis(20)).until(condition::getAsBoolean);
  }

  /** A key pair and self-signed certificate made by the JDK's keytool, valid for {@code san}. */
  private KeyStore.PrivateKeyEntry keytoolKeyPair(String san) throws Exception {
    Path store = Files.createTempFile(dir, "pair", ".p12");
    Files.delete(store);
    List<String> command = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "keytool").toString(), "-genkeypair", "-noprompt",
        "-alias", "k", "-keyalg", "RSA", "-keysize", "2048", "-dname", "CN=epp-test",
        "-storetype", "PKCS12", "-keystore", store.toString(), "-storepass", "changeit"));
    command.addAll(List.of("-ext", "SAN=" + san));
    Process process = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(dir.resolve("keytool.log").toFile()).start();
    assertTrue(process.waitFor(60, TimeUnit.SECONDS), "keytool finished");
    assertEquals(0, process.exitValue(), () -> readQuietly(dir.resolve("keytool.log")));
    KeyStore keyStore = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(store)) {
      keyStore.load(in, "changeit".toCharArray());
    }
    PrivateKey key = (PrivateKey) keyStore.getKey("k", "changeit".toCharArray());
    return new KeyStore.PrivateKeyEntry(key, keyStore.getCertificateChain("k"));
  }

  private static String readQuietly(Path file) {
    try {
      return Files.readString(file);
    } catch (IOException e) {
      return e.toString();
    }
  }

  private static String pem(String type, byte[] der) {
    return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
        + "\n-----END " + type + "-----\n";
  }

  /** Discovery that records its lifecycle. */
  private static final class RecordingDiscovery implements EndpointDiscovery {
    volatile boolean started;
    volatile boolean closed;

    @Override
    public void start(EndpointStore store) {
      started = true;
    }

    @Override
    public void close() {
      closed = true;
    }
  }

  /** A loopback HTTP server publishing a minimal vLLM metrics page. */
  static final class ModelServer implements AutoCloseable {
    private final HttpServer server;
    private final CountDownLatch released = new CountDownLatch(1);
    private volatile boolean hung;
    private boolean closed;

    ModelServer(int waiting, double kvUsage) throws IOException {
      byte[] page = ("# TYPE vllm:num_requests_running gauge\n"
          + "vllm:num_requests_running{model_name=\"m\"} 1.0\n"
          + "# TYPE vllm:num_requests_waiting gauge\n"
          + "vllm:num_requests_waiting{model_name=\"m\"} " + waiting + ".0\n"
          + "# TYPE vllm:kv_cache_usage_perc gauge\n"
          + "vllm:kv_cache_usage_perc{model_name=\"m\"} " + kvUsage + "\n").getBytes(StandardCharsets.UTF_8);
      server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
      server.setExecutor(Executors.newCachedThreadPool());
      server.createContext("/metrics", exchange -> {
        try (exchange) {
          if (hung) { // accepts the request and never answers, as a stopped process would
            try {
              released.await();
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            return;
          }
          exchange.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4");
          exchange.sendResponseHeaders(200, page.length);
          exchange.getResponseBody().write(page);
        }
      });
      server.start();
    }

    int port() {
      return server.getAddress().getPort();
    }

    /** From now on, requests are accepted and never answered. */
    void hang() {
      hung = true;
    }

    @Override
    public synchronized void close() {
      if (!closed) {
        closed = true;
        released.countDown();
        server.stop(0);
        ((ExecutorService) server.getExecutor()).shutdownNow();
      }
    }
  }
}
