package dev.epp.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.epp.discovery.StaticDiscovery;
import dev.epp.metrics.export.EppMetrics;
import dev.epp.scheduler.EndpointPickerConfig;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The settings record: what the builder makes, and the same validation however it is made. */
class EppServerOptionsTest {

  private static EppServer.Builder builder() {
    return EppServer.builder(EndpointPickerConfig.loader().metrics(EppMetrics.create()).defaults(),
        new StaticDiscovery(List.of()));
  }

  @Test
  void theBuildersDefaultsAreTheRecordsAndItsSettingsReachTheServer() {
    assertEquals(EppServerOptions.defaults(), builder().build().options());
    EppServerOptions options = builder().grpcPort(0).drainTimeout(Duration.ZERO).poolName("pool-a").build().options();
    assertEquals(0, options.grpcPort());
    assertEquals(Duration.ZERO, options.drainTimeout());
    assertEquals("pool-a", options.poolName());
    assertEquals(EppServer.DEFAULT_HEALTH_PORT, options.healthPort());
  }

  @Test
  void theRecordValidatesAsTheBuilderDoes() {
    IllegalArgumentException fromBuilder =
        assertThrows(IllegalArgumentException.class, () -> builder().maxBufferedBodyBytes(10).build());
    EppServerOptions d = EppServerOptions.defaults();
    IllegalArgumentException fromRecord = assertThrows(IllegalArgumentException.class, () -> new EppServerOptions(
        d.poolName(), d.objectives(), d.modelRewrites(), d.grpcPort(), d.healthPort(), d.metricsPort(),
        d.metricsBearerToken(), d.secureServing(), d.certPath(), d.certReload(), d.healthChecking(), d.readiness(),
        d.refreshMetricsInterval(), d.refreshPrometheusMetricsInterval(), d.metricsStalenessThreshold(),
        d.modelServerMetricsScheme(), d.modelServerMetricsPath(), d.modelServerMetricsPort(),
        d.modelServerMetricsInsecureSkipVerify(), d.maxRequestBodyBytes(), 10, d.streamIdleTimeout(),
        d.maxConcurrentStreamsPerConnection(), d.maxConnectionIdle(), d.keepAliveTime(), d.keepAliveTimeout(),
        d.drainTimeout(), d.grpcStreamMetrics(), d.emitEndpointScores()));
    assertEquals(fromBuilder.getMessage(), fromRecord.getMessage());
    assertEquals("max buffered body bytes (10) must be at least max request body bytes (16777216)",
        fromRecord.getMessage());
    assertEquals("port 70000 is not in 0..65535",
        assertThrows(IllegalArgumentException.class, () -> builder().grpcPort(70000)).getMessage());
  }
}
