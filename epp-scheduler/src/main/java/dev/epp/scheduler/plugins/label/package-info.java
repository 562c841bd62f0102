/**
 * Plugins matching endpoint labels against the request, from llm-d: types {@code header-label-affinity-scorer} (an
 * endpoint label equal to a request header) and {@code context-length-aware} (an endpoint label declaring the prompt
 * lengths it serves).
 *
 * <p>They allocate nothing per call.
 */
package dev.epp.scheduler.plugins.label;
