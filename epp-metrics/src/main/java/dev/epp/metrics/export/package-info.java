/**
 * The EPP's own metrics: {@link dev.epp.metrics.export.EppMetrics} (the Go EPP's families) served on
 * {@code /metrics} by {@link dev.epp.metrics.export.MetricsExporter}.
 *
 * <p>Parameters and return values are never {@code null} unless a method says otherwise.
 */
package dev.epp.metrics.export;
