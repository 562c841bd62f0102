/**
 * The complete Endpoint Picker process, {@code EppServer}: discovery, scraping, the {@code Director}, the ext_proc and
 * health gRPC services, the {@code /metrics} endpoint with its live page, and OpenTelemetry tracing
 * ({@code Tracing}).
 */
module dev.epp.server {
  requires com.fasterxml.jackson.core;
  requires transitive dev.epp.scheduler;
  requires dev.epp.extproc;
  requires dev.epp.metrics;
  requires io.grpc;
  requires io.grpc.netty.shaded;
  requires io.grpc.services;
  requires io.grpc.stub;
  requires org.slf4j;
  requires transitive io.opentelemetry.sdk;
  requires transitive io.opentelemetry.sdk.trace;
  requires io.opentelemetry.api;
  requires io.opentelemetry.common;
  requires io.opentelemetry.context;
  requires io.opentelemetry.sdk.common;
  requires io.opentelemetry.exporter.logging;
  requires io.opentelemetry.exporter.otlp;

  exports dev.epp.server;
}
