/**
 * Session affinity, from llm-d: types {@code session-affinity-filter} (hard pin), {@code session-affinity-scorer}
 * (soft preference), {@code session-id-producer} (publishes a session id read from a header or a cookie) and
 * {@code agent-identity} (an agent session header as the request's agent identity, its default fairness ID).
 *
 * <p>A session is pinned either by a token the EPP writes on the response and the client sends back
 * ({@code encoded_endpoint_header}), or by a bounded, TTL-evicted map from a client session id to an endpoint
 * ({@code session_id}). Bad or stale session data never fails a request: it falls back to normal scheduling.
 */
package dev.epp.scheduler.plugins.session;
