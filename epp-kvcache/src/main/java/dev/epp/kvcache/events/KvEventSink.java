package dev.epp.kvcache.events;

import java.util.List;

/**
 * Receives the decoded KV-cache events of the pool's endpoints.
 *
 * <p><b>Threading:</b> calls for one endpoint come from one thread at a time, in publication order; calls for
 * different endpoints may be concurrent. Implementations must not block.
 */
public interface KvEventSink {

  /**
   * Applies the events one message of {@code endpoint} carried, in order.
   *
   * @param endpoint the endpoint's name in the pool
   * @param model the model name from the message topic (may be empty)
   */
  void apply(String endpoint, String model, List<KvEvent> events);

  /**
   * Forgets every block of {@code endpoint}: it left the pool, or events were lost and cannot be replayed, so what is
   * known of it can no longer be trusted. Later events rebuild it.
   */
  void clear(String endpoint);
}
