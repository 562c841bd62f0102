package dev.epp.examples.gateway;

import com.google.protobuf.ByteString;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.envoyproxy.envoy.config.core.v3.HeaderMap;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.config.core.v3.Metadata;
import io.envoyproxy.envoy.service.ext_proc.v3.ExternalProcessorGrpc;
import io.envoyproxy.envoy.service.ext_proc.v3.HeaderMutation;
import io.envoyproxy.envoy.service.ext_proc.v3.HttpBody;
import io.envoyproxy.envoy.service.ext_proc.v3.HttpHeaders;
import io.envoyproxy.envoy.service.ext_proc.v3.ImmediateResponse;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingRequest;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingResponse;
import io.envoyproxy.envoy.service.ext_proc.v3.StreamedBodyResponse;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.netty.shaded.io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLException;

/**
 * Envoy's side of ext_proc with {@code FULL_DUPLEX_STREAMED} bodies, one gRPC stream per request:
 *
 * <ol>
 *   <li>{@code request_headers} (end of stream for a body-less request), then the body in {@code request_body}
 *       chunks, the last with end of stream;
 *   <li>the EPP answers with a headers response, whose header mutation is applied to the upstream request and which
 *       names the endpoints in {@code x-gateway-destination-endpoint} (or in dynamic metadata {@code envoy.lb}), then
 *       the upstream body as streamed body responses; or with an {@code ImmediateResponse} for the client;
 *   <li>{@code response_headers} with {@code :status} and {@code envoy.lb / x-gateway-destination-endpoint-served}
 *       in the metadata context; the mutation of the answer is applied to the client's headers;
 *   <li>{@code response_body} chunks; the EPP's streamed answers go to the client as they arrive;
 *   <li>half-close once the last chunk reached the client; cancel otherwise.
 * </ol>
 *
 * <p>Failures map as Envoy's with {@code failure_mode_allow: false} would, except that an unreachable EPP is 503
 * rather than 500 so clients know to retry: no answer within the message timeout is 504, a broken protocol 500.
 *
 * <p>Like Envoy, which connects when a request needs a connection, the picker does not wait out gRPC's reconnect
 * backoff: a request finding the channel failed gets a new channel, which connects at once (see {@link #channel()}).
 */
final class ExtProcPicker implements EndpointPicker {

  /** The largest request body chunk sent to the EPP. */
  private static final int CHUNK = 64 * 1024;
  private static final Object COMPLETED = new Object();

  private final String target;
  /** The client TLS context, or {@code null} for plaintext. */
  private final SslContext tls;
  private final Duration messageTimeout;
  private volatile ManagedChannel channel;
  private boolean closed; // guarded by this

  ExtProcPicker(String target, boolean tls, Duration messageTimeout) {
    if (messageTimeout.isNegative() || messageTimeout.isZero()) {
      throw new IllegalArgumentException("messageTimeout must be positive: " + messageTimeout);
    }
    this.target = target;
    this.messageTimeout = messageTimeout;
    try {
      this.tls = tls ? GrpcSslContexts.forClient().trustManager(InsecureTrustManagerFactory.INSTANCE).build() : null;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot set up TLS: " + e.getMessage(), e);
    }
    this.channel = newChannel();
  }

  @Override
  public Exchange open(BodySink client) {
    ExtProcExchange exchange = new ExtProcExchange(client);
    ExternalProcessorGrpc.newStub(channel()).process(exchange);
    return exchange;
  }

  @Override
  public void close() {
    ManagedChannel last;
    synchronized (this) {
      closed = true;
      last = channel;
    }
    last.shutdownNow();
    try {
      last.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * The channel to call the EPP on. A channel in {@code TRANSIENT_FAILURE} (its last connection attempt failed) fails
   * every call at once until a reconnect succeeds, and reconnects only after a backoff that grows to two minutes,
   * also once the EPP is back; {@code resetConnectBackoff()} does not help the call at hand. So such a channel is
   * replaced by a new one, which connects on its first call and holds the calls until it is connected or has failed;
   * a channel that is connected, connecting or idle is kept.
   */
  private ManagedChannel channel() {
    ManagedChannel current = channel;
    if (current.getState(false) != ConnectivityState.TRANSIENT_FAILURE) {
      return current;
    }
    synchronized (this) {
      if (channel == current && !closed) {
        channel = newChannel();
        current.shutdown();
      }
      return channel;
    }
  }

  private ManagedChannel newChannel() {
    NettyChannelBuilder builder = NettyChannelBuilder.forTarget(target);
    if (tls != null) {
      builder.sslContext(tls);
    } else {
      builder.usePlaintext();
    }
    return builder.build();
  }

  /** One request's stream; the answers before the response body are queued for the request's thread. */
  private final class ExtProcExchange
      implements Exchange, ClientResponseObserver<ProcessingRequest, ProcessingResponse> {
    private final BodySink client;
    /** {@link ProcessingResponse}s, a {@link Throwable} from the stream, or {@link #COMPLETED}. */
    private final BlockingQueue<Object> answers = new LinkedBlockingQueue<>();
    private final CompletableFuture<Void> responseEnd = new CompletableFuture<>();
    private ClientCallStreamObserver<ProcessingRequest> requests;

    ExtProcExchange(BodySink client) {
      this.client = client;
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<ProcessingRequest> requestStream) {
      this.requests = requestStream;
    }

    @Override
    public Decision route(Map<String, String> headers, byte[] body) throws PickerException {
      boolean headerOnly = body.length == 0;
      requests.onNext(ProcessingRequest.newBuilder()
          .setRequestHeaders(HttpHeaders.newBuilder().setHeaders(headerMap(headers)).setEndOfStream(headerOnly))
          .build());
      for (int offset = 0; offset < body.length; offset += CHUNK) {
        int length = Math.min(CHUNK, body.length - offset);
        requests.onNext(ProcessingRequest.newBuilder()
            .setRequestBody(HttpBody.newBuilder()
                .setBody(ByteString.copyFrom(body, offset, length))
                .setEndOfStream(offset + length == body.length))
            .build());
      }
      Map<String, String> upstream = null;
      String destination = null;
      ByteString upstreamBody = ByteString.EMPTY;
      while (true) {
        ProcessingResponse answer = next();
        if (answer.hasImmediateResponse()) {
          ImmediateResponse immediate = answer.getImmediateResponse();
          Map<String, String> replyHeaders = new LinkedHashMap<>(Map.of("content-type", "text/plain"));
          apply(immediate.getHeaders(), replyHeaders);
          int status = immediate.getStatus().getCodeValue();
          return new Reject(status == 0 ? 200 : status, replyHeaders, immediate.getBody().toByteArray());
        }
        if (upstream == null && answer.hasRequestHeaders()) {
          upstream = new LinkedHashMap<>(headers);
          apply(answer.getRequestHeaders().getResponse().getHeaderMutation(), upstream);
          destination = upstream.getOrDefault(Headers.DESTINATION, metadataDestination(answer.getDynamicMetadata()));
          if (headerOnly) {
            break;
          }
        } else if (upstream != null && !headerOnly && answer.hasRequestBody()) {
          StreamedBodyResponse part = answer.getRequestBody().getResponse().getBodyMutation().getStreamedResponse();
          upstreamBody = upstreamBody.concat(part.getBody());
          if (part.getEndOfStream()) {
            break;
          }
        } else {
          throw new PickerException(500, "unexpected answer from the EPP: " + answer.getResponseCase(), null);
        }
      }
      if (destination == null || destination.isBlank()) {
        throw new PickerException(503, "the EPP named no destination endpoint", null);
      }
      List<String> endpoints = Arrays.stream(destination.split(",")).map(String::strip)
          .filter(s -> !s.isEmpty()).toList();
      return new Forward(endpoints, upstream, upstreamBody.toByteArray());
    }

    @Override
    public Map<String, String> responseHeaders(Map<String, String> headers, String served) throws PickerException {
      Struct lb = Struct.newBuilder()
          .putFields(Headers.DESTINATION_SERVED, Value.newBuilder().setStringValue(served).build())
          .build();
      requests.onNext(ProcessingRequest.newBuilder()
          .setResponseHeaders(HttpHeaders.newBuilder().setHeaders(headerMap(headers)))
          .setMetadataContext(Metadata.newBuilder().putFilterMetadata(Headers.LB_NAMESPACE, lb))
          .build());
      ProcessingResponse answer = next();
      if (!answer.hasResponseHeaders()) {
        throw new PickerException(500, "unexpected answer to response headers: " + answer.getResponseCase(), null);
      }
      Map<String, String> result = new LinkedHashMap<>(headers);
      apply(answer.getResponseHeaders().getResponse().getHeaderMutation(), result);
      return result;
    }

    @Override
    public void responseBody(byte[] chunk, boolean endOfStream) throws PickerException, IOException {
      if (responseEnd.isCompletedExceptionally()) {
        awaitResponseEnd(); // throws the failure
      }
      requests.onNext(ProcessingRequest.newBuilder()
          .setResponseBody(HttpBody.newBuilder().setBody(ByteString.copyFrom(chunk)).setEndOfStream(endOfStream))
          .build());
    }

    @Override
    public void awaitResponseEnd() throws PickerException, IOException {
      try {
        responseEnd.get(messageTimeout.toNanos(), TimeUnit.NANOSECONDS);
      } catch (TimeoutException e) {
        throw new PickerException(504, "the EPP did not finish the response body within " + messageTimeout, null);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted", e);
      } catch (ExecutionException e) {
        if (e.getCause() instanceof IOException io) {
          throw io;
        }
        if (e.getCause() instanceof PickerException picker) {
          throw picker;
        }
        throw new PickerException(500, "response body failed: " + e.getCause(), e.getCause());
      }
    }

    @Override
    public void close() {
      if (responseEnd.isDone() && !responseEnd.isCompletedExceptionally()) {
        requests.onCompleted();
      } else {
        requests.cancel("gateway request ended", null);
      }
    }

    /** The next answer before the response body, within the message timeout. */
    private ProcessingResponse next() throws PickerException {
      Object answer;
      try {
        answer = answers.poll(messageTimeout.toNanos(), TimeUnit.NANOSECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new PickerException(500, "interrupted waiting for the EPP", e);
      }
      if (answer == null) {
        throw new PickerException(504, "the EPP did not answer within " + messageTimeout, null);
      }
      if (answer instanceof Throwable t) {
        throw failure(t);
      }
      if (answer == COMPLETED) {
        throw new PickerException(500, "the EPP ended the stream without answering", null);
      }
      return (ProcessingResponse) answer;
    }

    @Override
    public void onNext(ProcessingResponse answer) {
      if (!answer.hasResponseBody()) {
        answers.add(answer);
        if (answer.hasImmediateResponse()) {
          responseEnd.completeExceptionally(new PickerException(500, "the EPP aborted the response", null));
        }
        return;
      }
      StreamedBodyResponse part = answer.getResponseBody().getResponse().getBodyMutation().getStreamedResponse();
      try {
        if (!part.getBody().isEmpty()) {
          client.write(part.getBody().toByteArray());
        }
        if (part.getEndOfStream()) {
          responseEnd.complete(null);
        }
      } catch (IOException e) {
        responseEnd.completeExceptionally(e);
      }
    }

    @Override
    public void onError(Throwable t) {
      answers.add(t);
      responseEnd.completeExceptionally(failure(t));
    }

    @Override
    public void onCompleted() {
      answers.add(COMPLETED);
      responseEnd.completeExceptionally(new PickerException(500, "the EPP ended the stream early", null));
    }
  }

  private PickerException failure(Throwable t) {
    Status status = Status.fromThrowable(t);
    int httpStatus = switch (status.getCode()) {
      case UNAVAILABLE -> 503;
      case DEADLINE_EXCEEDED -> 504;
      default -> 500;
    };
    String hint = tlsHint(status);
    return new PickerException(httpStatus, "EPP stream failed: " + status.getCode() + firstLine(status.getDescription())
        + (hint.isEmpty() ? cause(status) : hint), t);
  }

  /** {@code ": "} and the first line of {@code text}, or nothing if it is empty. */
  private static String firstLine(String text) {
    return text == null || text.isBlank() ? "" : ": " + text.strip().lines().findFirst().orElse("");
  }

  /** {@code ": "} and the first line of the message of the cause of {@code status}, or nothing. */
  private static String cause(Status status) {
    return status.getCause() == null ? "" : firstLine(status.getCause().getMessage());
  }

  /**
   * What to do when the failure looks like a TLS mismatch: a TLS server closes a plaintext connection without a word
   * (or resets it, when our preface was still unread), and a plaintext server's bytes fail the TLS handshake.
   */
  private String tlsHint(Status status) {
    if (status.getCode() != Status.Code.UNAVAILABLE) {
      return "";
    }
    if (tls == null) {
      boolean closed = String.valueOf(status.getDescription()).contains("Network closed for unknown reason")
          || cause(status).contains("Connection reset by peer");
      return closed ? "; the EPP may be serving TLS: connect with TLS (gateway --epp-tls)" : "";
    }
    for (Throwable cause = status.getCause(); cause != null; cause = cause.getCause()) {
      if (cause instanceof SSLException) {
        return "; the EPP may be serving plaintext: connect without TLS (no --epp-tls)";
      }
    }
    return "";
  }

  /** The headers as Envoy sends them, with raw values. */
  private static HeaderMap headerMap(Map<String, String> headers) {
    HeaderMap.Builder map = HeaderMap.newBuilder();
    headers.forEach((name, value) -> map.addHeaders(
        HeaderValue.newBuilder().setKey(name).setRawValue(ByteString.copyFromUtf8(value))));
    return map.build();
  }

  /**
   * Applies a header mutation as Envoy's ext_proc filter does: removals, then each set header, which overwrites
   * unless its append action is {@code ADD_IF_ABSENT} or {@code OVERWRITE_IF_EXISTS}. Pseudo-headers and {@code host} are not
   * changed, as under Envoy's default mutation rules.
   */
  static void apply(HeaderMutation mutation, Map<String, String> headers) {
    for (String name : mutation.getRemoveHeadersList()) {
      String key = name.toLowerCase(Locale.ROOT);
      if (mutable(key)) {
        headers.remove(key);
      }
    }
    for (HeaderValueOption option : mutation.getSetHeadersList()) {
      HeaderValue header = option.getHeader();
      String key = header.getKey().toLowerCase(Locale.ROOT);
      if (!mutable(key)) {
        continue;
      }
      String value = header.getRawValue().isEmpty() ? header.getValue() : header.getRawValue().toStringUtf8();
      switch (option.getAppendAction()) {
        case ADD_IF_ABSENT -> headers.putIfAbsent(key, value);
        case OVERWRITE_IF_EXISTS -> headers.computeIfPresent(key, (k, v) -> value);
        // the default action (0) overwrites in ext_proc unless the deprecated append flag is set, which is ignored
        default -> headers.put(key, value);
      }
    }
  }

  private static boolean mutable(String name) {
    return !name.startsWith(":") && !name.equals("host");
  }

  /** {@code envoy.lb / x-gateway-destination-endpoint} from the EPP's dynamic metadata, or {@code null}. */
  private static String metadataDestination(Struct metadata) {
    Value lb = metadata.getFieldsMap().get(Headers.LB_NAMESPACE);
    if (lb == null || !lb.hasStructValue()) {
      return null;
    }
    Value destination = lb.getStructValue().getFieldsMap().get(Headers.DESTINATION);
    return destination == null ? null : destination.getStringValue();
  }
}
