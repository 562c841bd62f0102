/**
 * The complete Endpoint Picker process, {@code EppServer}: discovery, scraping, the {@code Director}, the ext_proc and
 * health gRPC services and the {@code /metrics} endpoint with its live page.
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

  exports dev.epp.server;
}
