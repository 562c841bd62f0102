package dev.epp.metrics.export;

import dev.epp.metrics.export.internal.GoTextFormat;
import io.prometheus.client.CollectorRegistry;
import io.prometheus.client.hotspot.DefaultExports;
import java.io.IOException;
import java.io.Writer;
import java.util.Collections;

/**
 * A set of metric families that is exposed together: what {@link MetricsExporter} serves, and what an embedder who
 * serves metrics themselves writes with {@link #writeTo(Writer)}. Components share one registry by being created
 * into it (for instance {@link EppMetrics#create(MetricsRegistry)}); a family name may be registered once.
 *
 * <p><b>Threading:</b> thread-safe.
 */
public final class MetricsRegistry {

  /** The content type of {@link #writeTo(Writer)}'s output: the Prometheus text format 0.0.4. */
  public static final String CONTENT_TYPE = GoTextFormat.CONTENT_TYPE;

  private final CollectorRegistry registry;

  /** A registry over {@code registry}, for tests that need collectors of their own. */
  MetricsRegistry(CollectorRegistry registry) {
    this.registry = registry;
  }

  /** An empty registry. */
  public static MetricsRegistry create() {
    return new MetricsRegistry(new CollectorRegistry(true));
  }

  /** A registry holding the JVM and process metrics ({@code jvm_*}, {@code process_*}). */
  public static MetricsRegistry withJvmMetrics() {
    MetricsRegistry registry = create();
    DefaultExports.register(registry.registry);
    return registry;
  }

  /**
   * Writes every family in the Prometheus text format 0.0.4 ({@link #CONTENT_TYPE}), as the Go EPP writes it:
   * families and series sorted, Go number formatting, no {@code _created} series. Does not flush or close {@code out}.
   *
   * @throws IOException if {@code out} fails
   */
  public void writeTo(Writer out) throws IOException {
    GoTextFormat.write(out, Collections.list(registry.metricFamilySamples()));
  }

  /** The simpleclient registry underneath, for this package's collectors. */
  CollectorRegistry collectorRegistry() {
    return registry;
  }
}
