/**
 * Approximate prefix-cache affinity: types {@code approx-prefix-cache-producer}, which hashes each prompt into
 * chained block hashes and remembers which endpoints it routed them to, {@code prefix-cache-scorer}, which
 * prefers the endpoints that probably hold the longest prefix, and {@code prefix-cache-affinity-filter}, which keeps
 * only the endpoints that hold most of it until they are too loaded. The index ({@code PrefixIndex}, its hash-to-holders
 * table and per-server LRU), the hashing and the shared parameters are package-private.
 *
 * <p>Matching, scoring and filtering allocate nothing per candidate.
 */
package dev.epp.scheduler.plugins.prefix;
