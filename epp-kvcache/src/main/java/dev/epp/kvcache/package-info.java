/**
 * Precise prefix-cache routing plugins: {@code token-producer} ({@link dev.epp.kvcache.TokenProducer}) tokenizes the
 * prompt; {@code precise-prefix-cache-producer} ({@link dev.epp.kvcache.PrecisePrefixCacheProducer}) matches the
 * tokens against what the model servers' KV-cache events report them holding; {@code endpoint-notification-source}
 * ({@link dev.epp.kvcache.EndpointNotificationSource}) names the source of pool changes in llm-d's configuration.
 */
package dev.epp.kvcache;
