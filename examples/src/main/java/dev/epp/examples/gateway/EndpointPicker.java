package dev.epp.examples.gateway;

import dev.epp.scheduler.Director;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * Where the {@link Gateway} asks which endpoint serves a request, and through which it passes the response: the EPP
 * over Envoy's ext_proc protocol ({@link #extProc}), or a {@link Director} in the same process ({@link #inProcess}).
 *
 * <p>Header maps have lower-case names, one value per name (repeated headers joined with {@code ,}); request headers
 * include the pseudo-headers {@code :method}, {@code :path}, {@code :authority} and {@code :scheme}.
 *
 * <p><b>Threading:</b> thread-safe; each {@link Exchange} belongs to one request and is used by one thread at a time.
 */
public interface EndpointPicker extends AutoCloseable {

  /** Starts one request's exchange; {@code client} receives the response body to send to the client. */
  Exchange open(BodySink client);

  /** Releases the picker's resources (the gRPC channel). Idempotent. */
  @Override
  void close();

  /**
   * The EPP at {@code target} ({@code host:port}) over ext_proc, as Envoy talks to it: one gRPC stream per request,
   * {@code FULL_DUPLEX_STREAMED} bodies.
   *
   * @param tls whether to connect with TLS; the server's certificate is not verified, as gateways do with the EPP's
   *     self-signed certificate
   * @param messageTimeout how long to wait for each answer of the EPP (Envoy's {@code message_timeout})
   */
  static EndpointPicker extProc(String target, boolean tls, Duration messageTimeout) {
    return new ExtProcPicker(target, tls, messageTimeout);
  }

  /** The director itself, called in this process; {@link #close()} does nothing. */
  static EndpointPicker inProcess(Director director) {
    return new DirectorPicker(director);
  }

  /** One request passing through the picker: {@link #route}, then the response phases, then {@link #close}. */
  interface Exchange extends AutoCloseable {

    /**
     * Routes a request whose body has been read completely; an empty body is a header-only request.
     *
     * @throws PickerException if the picker cannot be reached or breaks the protocol
     */
    Decision route(Map<String, String> headers, byte[] body) throws PickerException;

    /**
     * Passes the upstream response's headers (with {@code :status}).
     *
     * @param served the {@code ip:port} that answered, reported to the picker as Envoy does
     * @return the headers to send to the client
     */
    Map<String, String> responseHeaders(Map<String, String> headers, String served) throws PickerException;

    /**
     * Passes one chunk of the upstream response body; what the client should get arrives at the exchange's
     * {@link BodySink}, possibly later or on another thread.
     */
    void responseBody(byte[] chunk, boolean endOfStream) throws PickerException, IOException;

    /**
     * Waits until the last chunk for the client has been written to the {@link BodySink}.
     *
     * @throws IOException if writing to the client failed
     */
    void awaitResponseEnd() throws PickerException, IOException;

    /** Ends the exchange, cancelling it if the response did not complete. Idempotent. */
    @Override
    void close();
  }

  /** Receives the response body for the client, chunk by chunk, each to be sent at once. */
  @FunctionalInterface
  interface BodySink {
    /** Writes and flushes {@code chunk}. */
    void write(byte[] chunk) throws IOException;
  }

  /** The picker's answer to a request: {@link Forward} or {@link Reject}. */
  sealed interface Decision permits Forward, Reject {}

  /**
   * Forward the request.
   *
   * @param endpoints {@code ip:port} to try in order: the primary, then fallbacks; never empty
   * @param headers the headers to send upstream, pseudo-headers included
   * @param body the body to send upstream
   */
  record Forward(List<String> endpoints, Map<String, String> headers, byte[] body) implements Decision {
    /** Copies the lists and maps. */
    public Forward {
      endpoints = List.copyOf(endpoints);
      headers = Map.copyOf(headers);
      if (endpoints.isEmpty()) {
        throw new IllegalArgumentException("no endpoints");
      }
    }
  }

  /** Answer the client at once with {@code status}, {@code headers} and {@code body} (an EPP's immediate response). */
  record Reject(int status, Map<String, String> headers, byte[] body) implements Decision {
    /** Copies the headers. */
    public Reject {
      headers = Map.copyOf(headers);
    }
  }

  /** The picker failed: unreachable, too slow, or it broke the protocol. */
  final class PickerException extends Exception {
    private static final long serialVersionUID = 1L;
    private final int httpStatus;

    /** A failure the client sees as {@code httpStatus}. */
    public PickerException(int httpStatus, String message, Throwable cause) {
      super(message, cause);
      this.httpStatus = httpStatus;
    }

    /** The status to return to the client: 503 unreachable, 504 timed out, 500 protocol error. */
    public int httpStatus() {
      return httpStatus;
    }
  }
}
