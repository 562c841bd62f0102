/**
 * Model-server scraping: {@link dev.epp.metrics.scrape.MetricsScraper} polls every endpoint of an
 * {@link dev.epp.api.EndpointStore}, reads its page with {@link dev.epp.metrics.scrape.PrometheusParser} through the
 * endpoint's {@link dev.epp.metrics.scrape.EngineMapping} (chosen by {@link dev.epp.metrics.scrape.MetricMappings})
 * and writes the snapshot back to the store. The {@code dataLayer} plugins
 * {@link dev.epp.metrics.scrape.MetricsDataSource} and {@link dev.epp.metrics.scrape.CoreMetricsExtractor} of a Go
 * {@code EndpointPickerConfig} configure it. The EPP's own metrics are {@link dev.epp.metrics.export}; discovery
 * without Kubernetes is the {@code epp-discovery} module.
 *
 * <p>Parameters and return values are never {@code null} unless a method says otherwise.
 */
package dev.epp.metrics.scrape;
