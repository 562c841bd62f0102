/**
 * Precise prefix-cache routing plugins: {@link dev.epp.kvcache.TokenProducer} ({@code token-producer}) tokenizes the
 * prompt for the plugins that match it against the model servers' KV-cache events.
 */
package dev.epp.kvcache;
