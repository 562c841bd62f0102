package dev.epp.bench;

import com.google.protobuf.ByteString;
import dev.epp.api.requestcontrol.Objectives;
import dev.epp.extproc.ExtProcService;
import dev.epp.metrics.export.EppMetrics;
import dev.epp.metrics.export.MetricsRegistry;
import dev.epp.scheduler.Director;
import dev.epp.scheduler.EndpointPickerConfig;
import io.envoyproxy.envoy.config.core.v3.HeaderMap;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
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
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Flow control under overload, over real ext_proc streams on loopback: a pool of {@code --pods} endpoints that each
 * serve {@code --slots} requests at a time, each request holding its slot for {@code --service-ms} on average
 * (uniformly from half to one and a half times that; the client answers the response phase that much later, as a
 * model server would), so the pool serves {@code pods × slots / service} requests per second. Sheddable traffic
 * (priority -1) arrives at {@code --overload} times that capacity and critical traffic (priority 2) at
 * {@code --critical} of it, both at even intervals, for {@code --seconds}. After a warm-up phase of both (not
 * reported), a phase sends the critical traffic alone: its times are the baseline for the same traffic under
 * overload.
 *
 * <p>Prints, per phase and class, the requests sent, how each ended (routed, or dropped with its
 * {@code x-llm-d-request-dropped-reason}) and the routed ones' time in the EPP (request sent to headers answered)
 * at p50, p99 and max.
 *
 * <p>Run: {@code java -cp epp-bench/target/benchmarks.jar dev.epp.bench.FlowControlLoadTest --seconds 20}
 */
public final class FlowControlLoadTest {

  private static final String CONFIG = """
      apiVersion: llm-d.ai/v1alpha1
      kind: EndpointPickerConfig
      featureGates: [flowControl]
      plugins:
      - type: inflight-load-producer
      - name: slots
        type: concurrency-detector
        parameters:
          maxConcurrency: %d
      - type: queue-scorer
      - type: max-score-picker
      schedulingProfiles:
      - name: default
        plugins:
        - pluginRef: queue-scorer
        - pluginRef: max-score-picker
      flowControl:
        saturationDetector:
          pluginRef: slots
        defaultRequestTTL: %s
      """;

  private FlowControlLoadTest() {}

  /** Runs the test; see the class comment for the flags. */
  public static void main(String[] args) throws Exception {
    Map<String, String> flags = new TreeMap<>(Map.of("--seconds", "20", "--pods", "5", "--slots", "2",
        "--service-ms", "100", "--overload", "10", "--critical", "0.4", "--ttl", "5s"));
    for (int i = 0; i + 1 < args.length; i += 2) {
      if (!flags.containsKey(args[i])) {
        throw new IllegalArgumentException("unknown flag " + args[i] + "; flags: " + flags.keySet());
      }
      flags.put(args[i], args[i + 1]);
    }
    int seconds = Integer.parseInt(flags.get("--seconds"));
    int pods = Integer.parseInt(flags.get("--pods"));
    int slots = Integer.parseInt(flags.get("--slots"));
    long serviceMs = Long.parseLong(flags.get("--service-ms"));
    double capacity = pods * slots * 1000.0 / serviceMs;
    double sheddableRate = capacity * Double.parseDouble(flags.get("--overload"));
    double criticalRate = capacity * Double.parseDouble(flags.get("--critical"));
    System.out.printf("pool: %d pods x %d slots, %d ms per request = %.0f requests/s; critical %.0f/s, sheddable"
        + " %.0f/s under overload; TTL %s%n", pods, slots, serviceMs, capacity, criticalRate, sheddableRate,
        flags.get("--ttl"));
    try (Loopback epp = new Loopback(String.format(CONFIG, slots, flags.get("--ttl")), pods, serviceMs)) {
      epp.run(Math.max(1, seconds / 4), criticalRate, sheddableRate); // warm-up
      Phase alone = epp.run(seconds, criticalRate, 0);
      alone.print("critical alone");
      Phase overload = epp.run(seconds, criticalRate, sheddableRate);
      overload.print("with overload");
      System.out.printf("critical p99 in the EPP, overload / alone: %.2f%n",
          overload.critical.percentile(0.99) / Math.max(1e-3, alone.critical.percentile(0.99)));
    }
  }

  /** The EPP on loopback and a client that plays the model servers' part. */
  private static final class Loopback implements AutoCloseable {
    private final Director director;
    private final ExtProcService service;
    private final Server server;
    private final ManagedChannel channel;
    private final long serviceMs;
    private final ScheduledExecutorService clock = Executors.newScheduledThreadPool(2);

    Loopback(String config, int pods, long serviceMs) throws Exception {
      EndpointPickerConfig parsed = EndpointPickerConfig.loader()
          .metrics(EppMetrics.create(MetricsRegistry.create())).parse(config, "flow-control.yaml");
      director = Director.builder(parsed, Workloads.pool(pods))
          .objectives(Objectives.of(Map.of("critical", 2, "batch", -1)))
          .build();
      service = ExtProcService.builder(director).build();
      server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).directExecutor()
          .addService(service).build().start();
      channel = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort()).usePlaintext().directExecutor()
          .build();
      this.serviceMs = serviceMs;
    }

    /** Sends both classes at even intervals for {@code seconds}, then waits for every stream to end. */
    Phase run(int seconds, double criticalRate, double sheddableRate) throws InterruptedException {
      Phase phase = new Phase();
      long start = System.nanoTime();
      long end = start + TimeUnit.SECONDS.toNanos(seconds);
      long nextCritical = start;
      long nextSheddable = sheddableRate > 0 ? start : Long.MAX_VALUE;
      while (true) {
        long next = Math.min(nextCritical, nextSheddable);
        if (next >= end) {
          break;
        }
        long wait = next - System.nanoTime();
        if (wait > 0) {
          TimeUnit.NANOSECONDS.sleep(wait);
        }
        if (nextCritical <= nextSheddable) {
          send("critical", phase.critical);
          nextCritical += (long) (1e9 / criticalRate);
        } else {
          send("batch", phase.sheddable);
          nextSheddable += (long) (1e9 / sheddableRate);
        }
      }
      phase.critical.awaitEnded();
      phase.sheddable.awaitEnded();
      return phase;
    }

    private void send(String objective, Outcomes outcomes) {
      long sent = System.nanoTime();
      outcomes.sent.incrementAndGet();
      StreamObserver<ProcessingRequest>[] requests = newArray();
      requests[0] = ExternalProcessorGrpc.newStub(channel).process(new StreamObserver<>() {
        private boolean routed;

        @Override
        public void onNext(ProcessingResponse response) {
          if (response.hasRequestHeaders() && !routed) {
            routed = true;
            outcomes.routed(System.nanoTime() - sent);
            long service = ThreadLocalRandom.current().nextLong(serviceMs * 500, serviceMs * 1500);
            clock.schedule(() -> finish(requests[0]), service, TimeUnit.MICROSECONDS);
          } else if (response.hasImmediateResponse()) {
            String reason = response.getImmediateResponse().getHeaders().getSetHeadersCount() == 0 ? "other"
                : response.getImmediateResponse().getHeaders().getSetHeaders(0).getHeader().getRawValue()
                    .toStringUtf8();
            outcomes.dropped.computeIfAbsent(response.getImmediateResponse().getStatus().getCodeValue() + " "
                + reason, k -> new AtomicLong()).incrementAndGet();
          }
        }

        @Override
        public void onError(Throwable t) {
          outcomes.dropped.computeIfAbsent("stream error", k -> new AtomicLong()).incrementAndGet();
          outcomes.ended.incrementAndGet();
        }

        @Override
        public void onCompleted() {
          outcomes.ended.incrementAndGet();
        }
      });
      HeaderMap.Builder headers = HeaderMap.newBuilder();
      Map.of(":path", "/v1/chat/completions", "x-gateway-inference-objective", objective,
              "x-gateway-inference-fairness-id", objective + "-tenant")
          .forEach((k, v) -> headers.addHeaders(HeaderValue.newBuilder().setKey(k)
              .setRawValue(ByteString.copyFromUtf8(v))));
      requests[0].onNext(ProcessingRequest.newBuilder()
          .setRequestHeaders(HttpHeaders.newBuilder().setHeaders(headers)).build());
      requests[0].onNext(ProcessingRequest.newBuilder().setRequestBody(HttpBody.newBuilder()
          .setBody(ByteString.copyFrom(Workloads.chatRequest())).setEndOfStream(true)).build());
    }

    @SuppressWarnings("unchecked")
    private static StreamObserver<ProcessingRequest>[] newArray() {
      return new StreamObserver[1];
    }

    /** The model server's answer: its response ends, which frees the slot. */
    private static void finish(StreamObserver<ProcessingRequest> requests) {
      requests.onNext(ProcessingRequest.newBuilder().setResponseHeaders(HttpHeaders.getDefaultInstance()).build());
      requests.onNext(ProcessingRequest.newBuilder().setResponseBody(HttpBody.newBuilder()
          .setBody(ByteString.copyFrom(Workloads.chatResponse())).setEndOfStream(true)).build());
      requests.onCompleted();
    }

    @Override
    public void close() throws InterruptedException {
      director.close();
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      service.close();
      clock.shutdownNow();
    }
  }

  /** One phase's outcomes by class. */
  private static final class Phase {
    final Outcomes critical = new Outcomes();
    final Outcomes sheddable = new Outcomes();

    void print(String name) {
      critical.print(name, "critical");
      if (sheddable.sent.get() > 0) {
        sheddable.print(name, "sheddable");
      }
    }
  }

  /** How the requests of one class ended, and the routed ones' time in the EPP. */
  private static final class Outcomes {
    final AtomicLong sent = new AtomicLong();
    final AtomicLong ended = new AtomicLong();
    final Map<String, AtomicLong> dropped = new ConcurrentHashMap<>();
    private final Latencies waits = new Latencies();

    void routed(long nanos) {
      waits.add(nanos);
    }

    /** The {@code p} quantile of the routed requests' waits in milliseconds; 0 if none was routed. */
    double percentile(double p) {
      return waits.count() == 0 ? 0 : waits.percentileMillis(p);
    }

    void awaitEnded() throws InterruptedException {
      long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
      while (ended.get() < sent.get() && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
    }

    void print(String phase, String name) {
      System.out.printf("%-14s %-9s sent %,7d  routed %,7d  dropped %s  time in EPP p50 %.2f ms, p99 %.2f ms,"
              + " max %.2f ms%n", phase, name, sent.get(), waits.count(), new TreeMap<>(dropped), percentile(0.5),
          percentile(0.99), percentile(1.0));
    }
  }
}
