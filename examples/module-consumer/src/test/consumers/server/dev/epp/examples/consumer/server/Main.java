package dev.epp.examples.consumer.server;

import com.google.protobuf.ByteString;
import dev.epp.api.Endpoint;
import dev.epp.discovery.StaticDiscovery;
import dev.epp.metrics.export.EppMetrics;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.server.EppServer;
import io.envoyproxy.envoy.config.core.v3.HeaderMap;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.service.ext_proc.v3.ExternalProcessorGrpc;
import io.envoyproxy.envoy.service.ext_proc.v3.HttpBody;
import io.envoyproxy.envoy.service.ext_proc.v3.HttpHeaders;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingRequest;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingResponse;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Starts an {@code EppServer} (plaintext, ports chosen by the system) over one endpoint, sends it one request over
 * ext_proc as Envoy would, prints the destination it picks and the pool's line of its {@code /metrics} page.
 */
public final class Main {

  public static void main(String[] args) throws Exception {
    EndpointPickerConfig config = EndpointPickerConfig.loader().metrics(EppMetrics.create()).defaults();
    Endpoint endpoint = Endpoint.of("vllm-rank-0", "127.0.0.1", closedPort()); // never scraped: no metrics
    try (EppServer server = EppServer.builder(config, new StaticDiscovery(List.of(endpoint)))
        .poolName("module-pool").secureServing(false).grpcPort(0).healthPort(0).metricsPort(0).build().start()) {
      ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort()).usePlaintext().build();
      try {
        System.out.println("destination: " + route(channel));
      } finally {
        channel.shutdownNow();
      }
      HttpResponse<String> page = HttpClient.newHttpClient().send(
          HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.metricsPort() + "/metrics")).build(),
          HttpResponse.BodyHandlers.ofString());
      System.out.println("metrics: " + page.body().lines()
          .filter(line -> line.startsWith("inference_objective_request_total{")).findFirst().orElse("none"));
    }
  }

  /** The endpoint the EPP sets in {@code x-gateway-destination-endpoint} for a chat completion. */
  private static String route(ManagedChannel channel) throws Exception {
    CompletableFuture<ProcessingResponse> first = new CompletableFuture<>();
    StreamObserver<ProcessingRequest> requests = ExternalProcessorGrpc.newStub(channel)
        .withDeadlineAfter(60, TimeUnit.SECONDS)
        .process(new StreamObserver<>() {
          @Override
          public void onNext(ProcessingResponse response) {
            first.complete(response);
          }

          @Override
          public void onError(Throwable t) {
            first.completeExceptionally(t);
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
        .setBody(ByteString.copyFromUtf8("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}"))
        .setEndOfStream(true))
        .build());
    ProcessingResponse response = first.get(60, TimeUnit.SECONDS);
    requests.onCompleted();
    return response.getRequestHeaders().getResponse().getHeaderMutation().getSetHeadersList().stream()
        .map(HeaderValueOption::getHeader)
        .filter(header -> header.getKey().equals("x-gateway-destination-endpoint"))
        .map(header -> header.getRawValue().toStringUtf8())
        .findFirst().orElse("none");
  }

  /** A loopback port nothing listens on. */
  private static int closedPort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  private static HeaderValue header(String key, String value) {
    return HeaderValue.newBuilder().setKey(key).setRawValue(ByteString.copyFromUtf8(value)).build();
  }
}
