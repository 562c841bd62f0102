package dev.epp.kvcache.events;

import dev.epp.api.MetricsRecorder;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/** A recorder that counts the KV-event metrics by endpoint (and reason). */
final class CountingMetrics implements MetricsRecorder {

  private final Map<String, LongAdder> counts = new ConcurrentHashMap<>();

  @Override
  public void recordKvEventMessage(String endpoint) {
    inc("received/" + endpoint);
  }

  @Override
  public void recordKvEventDropped(String endpoint, String reason) {
    inc("dropped/" + endpoint + "/" + reason);
  }

  @Override
  public void recordKvEventSequenceGap(String endpoint) {
    inc("gap/" + endpoint);
  }

  long received(String endpoint) {
    return get("received/" + endpoint);
  }

  long dropped(String endpoint, String reason) {
    return get("dropped/" + endpoint + "/" + reason);
  }

  long gaps(String endpoint) {
    return get("gap/" + endpoint);
  }

  private void inc(String key) {
    counts.computeIfAbsent(key, k -> new LongAdder()).increment();
  }

  private long get(String key) {
    LongAdder adder = counts.get(key);
    return adder == null ? 0 : adder.sum();
  }
}
