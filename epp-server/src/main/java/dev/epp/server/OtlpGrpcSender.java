package dev.epp.server;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import io.opentelemetry.common.ComponentLoader;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.common.export.GrpcResponse;
import io.opentelemetry.sdk.common.export.GrpcSender;
import io.opentelemetry.sdk.common.export.GrpcSenderConfig;
import io.opentelemetry.sdk.common.export.GrpcSenderProvider;
import io.opentelemetry.sdk.common.export.GrpcStatusCode;
import io.opentelemetry.sdk.common.export.MessageWriter;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The OTLP exporter's gRPC transport over grpc-java (Netty), so that the exporter needs neither OkHttp nor the
 * managed-channel sender (not published for OpenTelemetry 1.68). One channel per exporter, plaintext for {@code http}
 * endpoints and TLS with the JVM's trust store for {@code https}; no compression and no retries (a failed batch is
 * dropped and logged by the exporter).
 */
final class OtlpGrpcSender implements GrpcSender {

  /** Loads this sender as the exporter's only {@link GrpcSenderProvider}, and nothing else. */
  static final ComponentLoader LOADER = new ComponentLoader() {
    @Override
    @SuppressWarnings("unchecked")
    public <T> Iterable<T> load(Class<T> type) {
      return type == GrpcSenderProvider.class ? List.of((T) (GrpcSenderProvider) OtlpGrpcSender::new) : List.of();
    }
  };

  private static final MethodDescriptor.Marshaller<MessageWriter> REQUEST = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(MessageWriter message) {
      ByteArrayOutputStream out = new ByteArrayOutputStream(message.getContentLength());
      try {
        message.writeMessage(out);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      return new ByteArrayInputStream(out.toByteArray());
    }

    @Override
    public MessageWriter parse(InputStream stream) {
      throw new UnsupportedOperationException("requests are only sent");
    }
  };

  private static final MethodDescriptor.Marshaller<byte[]> RESPONSE = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  };

  private final ManagedChannel channel;
  private final MethodDescriptor<MessageWriter, byte[]> method;
  private final GrpcSenderConfig config;

  private OtlpGrpcSender(GrpcSenderConfig config) {
    URI endpoint = config.getEndpoint();
    boolean tls = "https".equals(endpoint.getScheme());
    int port = endpoint.getPort() >= 0 ? endpoint.getPort() : tls ? 443 : 80;
    NettyChannelBuilder builder = NettyChannelBuilder.forAddress(endpoint.getHost(), port).directExecutor();
    this.channel = (tls ? builder.useTransportSecurity() : builder.usePlaintext()).build();
    this.method = MethodDescriptor.newBuilder(REQUEST, RESPONSE)
        .setType(MethodDescriptor.MethodType.UNARY)
        .setFullMethodName(config.getFullMethodName())
        .build();
    this.config = config;
  }

  @Override
  public void send(MessageWriter request, Consumer<GrpcResponse> onResponse, Consumer<Throwable> onError) {
    CallOptions options = CallOptions.DEFAULT;
    long timeoutNanos = config.getTimeout().toNanos();
    if (timeoutNanos > 0) {
      options = options.withDeadlineAfter(timeoutNanos, TimeUnit.NANOSECONDS);
    }
    Metadata headers = new Metadata();
    Map<String, List<String>> configured = config.getHeadersSupplier() == null ? Map.of()
        : config.getHeadersSupplier().get();
    configured.forEach((name, values) -> values.forEach(
        value -> headers.put(Metadata.Key.of(name, Metadata.ASCII_STRING_MARSHALLER), value)));
    ClientCall<MessageWriter, byte[]> call = ClientInterceptors
        .intercept(channel, MetadataUtils.newAttachHeadersInterceptor(headers)).newCall(method, options);
    ClientCalls.asyncUnaryCall(call, request, new StreamObserver<>() {
      private byte[] body;

      @Override
      public void onNext(byte[] value) {
        body = value;
      }

      @Override
      public void onError(Throwable t) {
        Status status = Status.fromThrowable(t);
        onResponse.accept(response(GrpcStatusCode.fromValue(status.getCode().value()),
            String.valueOf(status.getDescription()), null));
      }

      @Override
      public void onCompleted() {
        onResponse.accept(response(GrpcStatusCode.OK, "", body));
      }
    });
  }

  private static GrpcResponse response(GrpcStatusCode code, String description, byte[] body) {
    return new GrpcResponse() {
      @Override
      public GrpcStatusCode getStatusCode() {
        return code;
      }

      @Override
      public String getStatusDescription() {
        return description;
      }

      @Override
      public byte[] getResponseMessage() {
        return body;
      }
    };
  }

  @Override
  public CompletableResultCode shutdown() {
    channel.shutdown(); // calls in flight complete
    return CompletableResultCode.ofSuccess();
  }
}
