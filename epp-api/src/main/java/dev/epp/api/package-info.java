/**
 * Plugin SPI ({@link dev.epp.api.PluginFactory}, {@link dev.epp.api.Plugin}) and the immutable values every
 * plugin sees: {@link dev.epp.api.Endpoint}, {@link dev.epp.api.EndpointMetrics},
 * {@link dev.epp.api.InferenceRequest} and the per-request {@link dev.epp.api.RequestContext}.
 *
 * <p>Unless a type says otherwise, parameters and return values are never {@code null}.
 */
package dev.epp.api;
