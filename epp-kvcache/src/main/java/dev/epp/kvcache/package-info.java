/**
 * Precise prefix-cache routing plugins: {@code precise-prefix-cache-producer}
 * ({@link dev.epp.kvcache.PrecisePrefixCacheProducer}), which matches prompts against what engines report holding,
 * and {@code endpoint-notification-source} ({@link dev.epp.kvcache.EndpointNotificationSource}).
 */
package dev.epp.kvcache;
