/** An ext_proc EPP started on the module path, and a gateway's gRPC client for it. */
module dev.epp.examples.consumer.server {
  requires dev.epp.discovery;
  requires dev.epp.extproc;
  requires dev.epp.metrics;
  requires dev.epp.server;
  requires io.grpc.netty.shaded;
  requires java.net.http;
}
