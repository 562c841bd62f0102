package dev.epp.metrics.scrape.internal;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;

/**
 * A response body collected into one byte array, failing (and cancelling the exchange, which closes the connection)
 * as soon as it exceeds a cap, or when {@link #abort} is called. Used for exactly one exchange.
 *
 * <p><b>Threading:</b> the {@link Flow.Subscriber} methods follow the reactive-streams contract; {@link #abort} may
 * be called from any thread.
 */
public final class CappedBody implements HttpResponse.BodySubscriber<CappedBody.Page> {

  /** The body: {@code bytes[0, length)}. */
  public record Page(byte[] bytes, int length) {}

  /** The body exceeded the cap. */
  public static final class TooLargeException extends IOException {
    private static final long serialVersionUID = 1L;

    TooLargeException(String message) {
      super(message);
    }
  }

  private final int maxBytes;
  private final CompletableFuture<Page> result = new CompletableFuture<>();
  private volatile Flow.Subscription subscription;
  private volatile boolean done;
  private byte[] buffer;
  private int length;

  /**
   * @param maxBytes the cap
   * @param buffer a buffer to reuse (it is grown as needed), or {@code null}
   */
  public CappedBody(int maxBytes, byte[] buffer) {
    this.maxBytes = maxBytes;
    this.buffer = buffer != null ? buffer : new byte[Math.min(maxBytes, 64 * 1024)];
  }

  /** Fails the body with {@code cause} and cancels the exchange, unless it already completed. */
  public void abort(Throwable cause) {
    if (!done) {
      done = true;
      Flow.Subscription s = subscription;
      if (s != null) {
        s.cancel();
      }
      result.completeExceptionally(cause);
    }
  }

  /** Fails at once if the declared {@code Content-Length} exceeds the cap. */
  public void checkDeclaredLength(long contentLength) {
    if (contentLength > maxBytes) {
      abort(new TooLargeException("Content-Length " + contentLength + " exceeds the cap of " + maxBytes + " bytes"));
    }
  }

  @Override
  public void onSubscribe(Flow.Subscription s) {
    subscription = s;
    if (done) {
      s.cancel();
    } else {
      s.request(Long.MAX_VALUE);
    }
  }

  @Override
  public void onNext(List<ByteBuffer> items) {
    if (done) {
      return;
    }
    for (ByteBuffer item : items) {
      int n = item.remaining();
      if (n > maxBytes - length) {
        abort(new TooLargeException("body exceeds the cap of " + maxBytes + " bytes"));
        return;
      }
      if (length + n > buffer.length) {
        buffer = Arrays.copyOf(buffer, (int) Math.min(maxBytes, Math.max((long) length + n, 2L * buffer.length)));
      }
      item.get(buffer, length, n);
      length += n;
    }
  }

  @Override
  public void onError(Throwable throwable) {
    done = true;
    result.completeExceptionally(throwable);
  }

  @Override
  public void onComplete() {
    done = true;
    result.complete(new Page(buffer, length));
  }

  @Override
  public CompletionStage<Page> getBody() {
    return result;
  }
}
