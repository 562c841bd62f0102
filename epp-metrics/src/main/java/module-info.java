/**
 * Model-server metrics scraping ({@code dev.epp.metrics.scrape}, with its {@code dataLayer} plugin factories) and the
 * EPP's own Prometheus metrics and {@code /metrics} exporter ({@code dev.epp.metrics.export}). The {@code internal}
 * packages are not exported.
 *
 * <p>simpleclient 0.16 declares no module name: the module requires the names derived from its jar file names,
 * {@code simpleclient} and {@code simpleclient.hotspot}, as Maven and Gradle name those jars.
 */
module dev.epp.metrics {
  requires transitive dev.epp.api;
  requires java.net.http;
  requires org.slf4j;
  requires simpleclient;
  requires simpleclient.hotspot;

  exports dev.epp.metrics.export;
  exports dev.epp.metrics.scrape;

  provides dev.epp.api.PluginFactory with
      dev.epp.metrics.scrape.CoreMetricsExtractor.Factory,
      dev.epp.metrics.scrape.MetricsDataSource.Factory;
}
