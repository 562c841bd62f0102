package dev.epp.kvcache.events;

import dev.epp.api.Endpoint;
import dev.epp.api.MetricsRecorder;

/**
 * ZeroMQ subscriptions to the KV-cache events of the pool's endpoints: one SUB connection per endpoint to
 * {@code tcp://<address>:<socketPort + rank>}, decoded off the request path and applied to a {@link KvEventSink}.
 *
 * <p><b>Threading:</b> thread-safe; a fixed number of threads whatever the number of endpoints.
 */
public final class KvEventSubscribers implements AutoCloseable {

  private KvEventSubscribers(Builder builder) {
    throw new UnsupportedOperationException("not implemented yet");
  }

  /** A builder of subscriptions that deliver to {@code sink}. */
  public static Builder builder(KvEventSink sink) {
    return new Builder(sink);
  }

  /** Subscribes to {@code endpoint}'s events, replacing a subscription of the same name whose address changed. */
  public void subscribe(Endpoint endpoint) {
    throw new UnsupportedOperationException("not implemented yet");
  }

  /** Closes the subscription of the endpoint named {@code name}, if any, and clears its blocks from the sink. */
  public void unsubscribe(String name) {
    throw new UnsupportedOperationException("not implemented yet");
  }

  /** Closes every subscription and the threads. */
  @Override
  public void close() {
    throw new UnsupportedOperationException("not implemented yet");
  }

  /** Builds {@link KvEventSubscribers}; defaults are llm-d's. */
  public static final class Builder {
    private final KvEventSink sink;

    private Builder(KvEventSink sink) {
      this.sink = sink;
    }

    /** The base port of the publishers (default 5557); rank {@code r} publishes on {@code socketPort + r}. */
    public Builder socketPort(int value) {
      return this;
    }

    /** The topic prefix subscribed to (default {@code kv@}). */
    public Builder topicFilter(String value) {
      return this;
    }

    /** Threads decoding and applying events (default 4); one endpoint's events always go to the same thread. */
    public Builder concurrency(int value) {
      return this;
    }

    /** The publishers' replay (ROUTER) port used to recover lost events, or 0 for none (default). */
    public Builder replaySocketPort(int value) {
      return this;
    }

    /** Where events received, dropped and lost are counted. */
    public Builder metrics(MetricsRecorder value) {
      return this;
    }

    /** Starts the subscriber threads. */
    public KvEventSubscribers build() {
      return new KvEventSubscribers(this);
    }
  }
}
