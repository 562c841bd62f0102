/**
 * Model-server metrics and the EPP's own metrics. Discovery without Kubernetes is the {@code epp-discovery} module.
 *
 * <ul>
 *   <li>Scraping: {@link dev.epp.metrics.MetricsScraper} polls every endpoint of an
 *       {@link dev.epp.api.EndpointStore}, reads its page with {@link dev.epp.metrics.PrometheusParser} through the
 *       endpoint's {@link dev.epp.metrics.EngineMapping} (chosen by {@link dev.epp.metrics.MetricMappings}) and writes
 *       the snapshot back to the store.
 *   <li>Configuration: the {@code dataLayer} plugins {@link dev.epp.metrics.MetricsDataSource} and
 *       {@link dev.epp.metrics.CoreMetricsExtractor} of a Go {@code EndpointPickerConfig}.
 *   <li>Own metrics: {@link dev.epp.metrics.EppMetrics} (the Go EPP's families) served by
 *       {@link dev.epp.metrics.MetricsExporter}.
 * </ul>
 *
 * <p>Parameters and return values are never {@code null} unless a method says otherwise.
 */
package dev.epp.metrics;
