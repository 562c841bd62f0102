package dev.epp.examples.simulator;

import dev.epp.api.Endpoint;
import dev.epp.kvcache.PrecisePrefixCacheProducer;
import dev.epp.kvcache.events.KvEvent;
import dev.epp.kvcache.events.KvEventSink;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The KV-cache events of simulated pods delivered in virtual time, for {@code routing-bench}: what vLLM publishes over
 * ZeroMQ and each EPP replica's {@code precise-prefix-cache-producer} subscribes to, without sockets.
 *
 * <p>Each pod's engine reports its cache through {@link #listener}: a stored block becomes a one-block
 * {@link KvEvent.BlockStored} (tier {@code gpu}), an evicted one a {@link KvEvent.BlockRemoved}. The events a pod
 * emits are delivered {@link #DELIVERY_DELAY_NANOS} later, in order, in one {@link KvEventSink#apply} call per
 * subscriber (model {@code model}), as one ZeroMQ message would carry them. A producer subscribes through
 * {@link #subscriptions}: as in llm-d, every replica's producer subscribes to every pod of the pool. Events of a pod
 * nobody subscribes to are dropped and schedule nothing.
 *
 * <p><b>Threading:</b> not thread-safe; confined to the clock's thread.
 */
final class SimulatedKvEvents {

  /**
   * How long an event takes from the engine to the EPP's index: 1 ms, a ZeroMQ message over the cluster network plus
   * decoding, so a request that arrives within 1 ms of the previous one's prefill does not see its blocks yet.
   */
  static final long DELIVERY_DELAY_NANOS = 1_000_000;

  private final SimClock clock;
  private final String model;
  private final Map<String, List<KvEventSink>> subscribers = new HashMap<>();

  /** Events of pods serving {@code model}, delivered on {@code clock}. */
  SimulatedKvEvents(SimClock clock, String model) {
    this.clock = clock;
    this.model = model;
  }

  /** The listener for the KV cache of the pod named {@code pod}. */
  KvCache.Listener listener(String pod) {
    return new KvCache.Listener() {
      private List<KvEvent> pending = new ArrayList<>();

      @Override
      public void stored(long hash, long parentHash, boolean hasParent, int[] tokenIds, String loraName) {
        publish(new KvEvent.BlockStored(new long[] {hash}, parentHash, hasParent, tokenIds, tokenIds.length,
            loraName, KvEvent.DEFAULT_MEDIUM, List.of()));
      }

      @Override
      public void removed(long hash) {
        publish(new KvEvent.BlockRemoved(new long[] {hash}, KvEvent.DEFAULT_MEDIUM));
      }

      private void publish(KvEvent event) {
        if (!subscribers.containsKey(pod)) {
          return;
        }
        if (pending.isEmpty()) {
          clock.schedule(DELIVERY_DELAY_NANOS, this::deliver);
        }
        pending.add(event);
      }

      private void deliver() {
        List<KvEvent> events = List.copyOf(pending);
        pending = new ArrayList<>();
        for (KvEventSink sink : subscribers.get(pod)) {
          sink.apply(pod, model, events);
        }
      }
    };
  }

  /** Subscriptions that deliver the events of the pods {@code sink} subscribes to; closing them unsubscribes. */
  PrecisePrefixCacheProducer.Subscriptions subscriptions(KvEventSink sink) {
    return new PrecisePrefixCacheProducer.Subscriptions() {
      @Override
      public void subscribe(Endpoint endpoint) {
        List<KvEventSink> sinks = subscribers.computeIfAbsent(endpoint.name(), name -> new ArrayList<>());
        if (!sinks.contains(sink)) {
          sinks.add(sink);
        }
      }

      @Override
      public void unsubscribe(String name) {
        List<KvEventSink> sinks = subscribers.get(name);
        if (sinks != null) {
          sinks.remove(sink);
        }
      }

      @Override
      public void close() {
        subscribers.values().forEach(sinks -> sinks.remove(sink));
      }
    };
  }
}
