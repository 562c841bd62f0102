/**
 * Envoy's ext_proc v3 service over the scheduler's {@code Director}, and the Envoy API messages and gRPC stubs it
 * speaks, generated at build time and exported for clients and tests.
 */
module dev.epp.extproc {
  requires transitive com.google.protobuf;
  requires transitive dev.epp.scheduler;
  requires transitive io.grpc;
  requires transitive io.grpc.stub;
  requires io.grpc.protobuf;
  requires io.opentelemetry.api;
  requires io.opentelemetry.context;
  requires java.logging;
  requires org.slf4j;

  exports dev.epp.extproc;
  exports com.github.xds.core.v3;
  exports envoy.annotations;
  exports io.envoyproxy.envoy.config.core.v3;
  exports io.envoyproxy.envoy.extensions.filters.http.ext_proc.v3;
  exports io.envoyproxy.envoy.service.ext_proc.v3;
  exports io.envoyproxy.envoy.type.v3;
  exports io.envoyproxy.pgv.validate;
  exports udpa.annotations;
  exports xds.annotations.v3;
}
