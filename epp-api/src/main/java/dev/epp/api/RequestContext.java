package dev.epp.api;

import java.util.Arrays;
import java.util.Objects;

/**
 * Everything the framework and plugins know about one request while it is routed and served: the
 * {@link InferenceRequest} and typed per-request state (replacing the Go EPP's CycleState and PluginState).
 *
 * <p><b>Threading:</b> confined to one request. Its phases may run on different threads but never concurrently; the
 * caller that hands a context between threads provides the happens-before edge (gRPC serialises a stream's
 * callbacks).
 */
public final class RequestContext {

  private InferenceRequest request;
  private static final StateKey<?>[] NO_KEYS = {};
  private static final Object[] NO_VALUES = {};

  private StateKey<?>[] keys = NO_KEYS;
  private Object[] values = NO_VALUES;

  /** A context with no state yet. */
  public RequestContext(InferenceRequest request) {
    this.request = Objects.requireNonNull(request, "request");
  }

  /**
   * The request being routed. Once it is routed (after the pre-request hooks), its body's
   * {@link RequestBody#prompt() prompt} is empty: see {@link #releasePrompt()}.
   */
  public InferenceRequest request() {
    return request;
  }

  /**
   * Drops the request's prompt, keeping the rest of its body: afterwards {@code request().body().prompt()} is empty.
   * The Director calls this once a request is routed, so that a request in flight (for minutes, with a long prompt)
   * holds none of its prompt; scheduling plugins and pre-request hooks see the prompt, response hooks do not.
   */
  public void releasePrompt() {
    RequestBody body = request.body();
    if (!body.prompt().isEmpty()) {
      request = new InferenceRequest(request.requestId(), request.incomingModel(), request.targetModel(),
          request.headers(), new RequestBody(body.api(), body.stream(), body.cacheSalt(), ""), request.priority(),
          request.sizeBytes());
    }
  }

  /** The value stored under {@code key}, or {@code null} if none. */
  public <T> T get(StateKey<T> key) {
    for (int i = 0; i < keys.length; i++) {
      if (keys[i] == key) {
        return key.type().cast(values[i]);
      }
    }
    return null;
  }

  /** Stores {@code value} under {@code key}, replacing any previous value. */
  public <T> void put(StateKey<T> key, T value) {
    Objects.requireNonNull(key, "key");
    Object checked = key.type().cast(Objects.requireNonNull(value, "value"));
    for (int i = 0; i < keys.length; i++) {
      if (keys[i] == key) {
        values[i] = checked;
        return;
      }
    }
    keys = Arrays.copyOf(keys, keys.length + 1);
    values = Arrays.copyOf(values, values.length + 1);
    keys[keys.length - 1] = key;
    values[values.length - 1] = checked;
  }
}
