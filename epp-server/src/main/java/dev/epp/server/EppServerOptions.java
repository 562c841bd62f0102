package dev.epp.server;

import dev.epp.api.EndpointMetrics;
import dev.epp.api.requestcontrol.ModelRewrites;
import dev.epp.api.requestcontrol.Objectives;
import dev.epp.extproc.ExtProcService;
import dev.epp.metrics.export.EppMetrics;
import dev.epp.metrics.export.MetricsExporter;
import dev.epp.server.EppServer.Readiness;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * Every setting of an {@link EppServer}, validated on construction; {@link EppServer.Builder} documents each one and
 * its default, and {@link #defaults()} holds them.
 *
 * @param metricsBearerToken {@code null} for none
 * @param certPath {@code null} for a self-signed certificate
 * @param maxBufferedBodyBytes 0 for a quarter of the maximum heap
 * @throws IllegalArgumentException for a setting out of range, as the builder's setter would
 */
public record EppServerOptions(
    String poolName,
    Objectives objectives,
    ModelRewrites modelRewrites,
    int grpcPort,
    int healthPort,
    int metricsPort,
    String metricsBearerToken,
    boolean secureServing,
    Path certPath,
    boolean certReload,
    boolean healthChecking,
    Readiness readiness,
    Duration refreshMetricsInterval,
    Duration refreshPrometheusMetricsInterval,
    Duration metricsStalenessThreshold,
    String modelServerMetricsScheme,
    String modelServerMetricsPath,
    int modelServerMetricsPort,
    boolean modelServerMetricsInsecureSkipVerify,
    int maxRequestBodyBytes,
    long maxBufferedBodyBytes,
    Duration streamIdleTimeout,
    int maxConcurrentStreamsPerConnection,
    Duration maxConnectionIdle,
    Duration keepAliveTime,
    Duration keepAliveTimeout,
    Duration drainTimeout,
    boolean grpcStreamMetrics,
    boolean emitEndpointScores) {

  /** Validates every setting. */
  public EppServerOptions {
    poolName(poolName);
    Objects.requireNonNull(objectives, "objectives");
    Objects.requireNonNull(modelRewrites, "modelRewrites");
    port(grpcPort);
    port(healthPort);
    port(metricsPort);
    bearerToken(metricsBearerToken);
    Objects.requireNonNull(readiness, "readiness");
    positive(refreshMetricsInterval, "refresh metrics interval");
    positive(refreshPrometheusMetricsInterval, "refresh prometheus metrics interval");
    positive(metricsStalenessThreshold, "metrics staleness threshold");
    scheme(modelServerMetricsScheme);
    path(modelServerMetricsPath);
    port(modelServerMetricsPort);
    maxRequestBodyBytes(maxRequestBodyBytes);
    maxBufferedBodyBytes(maxBufferedBodyBytes);
    if (maxBufferedBodyBytes != 0 && maxBufferedBodyBytes < maxRequestBodyBytes) {
      throw new IllegalArgumentException("max buffered body bytes (" + maxBufferedBodyBytes
          + ") must be at least max request body bytes (" + maxRequestBodyBytes + ")");
    }
    Objects.requireNonNull(streamIdleTimeout, "streamIdleTimeout");
    maxConcurrentStreams(maxConcurrentStreamsPerConnection);
    positive(maxConnectionIdle, "max connection idle");
    positive(keepAliveTime, "keepalive time");
    positive(keepAliveTimeout, "keepalive timeout");
    drainTimeout(drainTimeout);
  }

  /** The defaults: the Go EPP's, unless {@link EppServer.Builder} says otherwise. */
  public static EppServerOptions defaults() {
    return new EppServerOptions(EppServer.DEFAULT_POOL_NAME, Objectives.none(), ModelRewrites.none(),
        EppServer.DEFAULT_GRPC_PORT, EppServer.DEFAULT_HEALTH_PORT, MetricsExporter.DEFAULT_PORT, null, true, null,
        false, false, Readiness.FRESH_METRICS, Duration.ofMillis(50), EppMetrics.DEFAULT_POOL_REFRESH_INTERVAL,
        EndpointMetrics.DEFAULT_STALENESS_THRESHOLD, "http", "/metrics", 0, true,
        ExtProcService.DEFAULT_MAX_REQUEST_BODY_BYTES, 0, ExtProcService.DEFAULT_STREAM_IDLE_TIMEOUT,
        Integer.MAX_VALUE, EppServer.DEFAULT_MAX_CONNECTION_IDLE, EppServer.DEFAULT_KEEPALIVE_TIME,
        EppServer.DEFAULT_KEEPALIVE_TIMEOUT, EppServer.DEFAULT_DRAIN_TIMEOUT, false, false);
  }

  // The rules, shared with the builder's setters so that a bad value fails where it is set.

  static String poolName(String value) {
    if (value.isBlank()) {
      throw new IllegalArgumentException("pool name must not be blank");
    }
    return value;
  }

  static int port(int value) {
    if (value < 0 || value > 65535) {
      throw new IllegalArgumentException("port " + value + " is not in 0..65535");
    }
    return value;
  }

  static String bearerToken(String value) {
    if (value != null && value.isBlank()) {
      throw new IllegalArgumentException("bearer token must not be blank");
    }
    return value;
  }

  static Duration positive(Duration value, String what) {
    if (value.isNegative() || value.isZero()) {
      throw new IllegalArgumentException(what + " must be positive: " + value);
    }
    return value;
  }

  static String scheme(String value) {
    if (!value.equals("http") && !value.equals("https")) {
      throw new IllegalArgumentException("scheme must be http or https: " + value);
    }
    return value;
  }

  static String path(String value) {
    if (!value.startsWith("/")) {
      throw new IllegalArgumentException("path must start with '/': " + value);
    }
    return value;
  }

  static int maxRequestBodyBytes(int value) {
    if (value <= 0) {
      throw new IllegalArgumentException("max request body bytes must be positive: " + value);
    }
    return value;
  }

  static long maxBufferedBodyBytes(long value) {
    if (value < 0) {
      throw new IllegalArgumentException("max buffered body bytes must not be negative: " + value);
    }
    return value;
  }

  static int maxConcurrentStreams(int value) {
    if (value <= 0) {
      throw new IllegalArgumentException("max concurrent streams must be positive: " + value);
    }
    return value;
  }

  static Duration drainTimeout(Duration value) {
    if (value.isNegative()) {
      throw new IllegalArgumentException("drain timeout must not be negative: " + value);
    }
    return value;
  }
}
