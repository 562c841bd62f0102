package dev.epp.examples.gateway;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.extproc.ExtProcService;
import dev.epp.scheduler.Director;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.scheduler.EndpointPool;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;

/** A real EPP: {@link ExtProcService} over gRPC on 127.0.0.1, port 0, routing over {@link #pool}. */
final class TestEpp implements AutoCloseable {

  /** Queue-based scoring with one fallback, so a test decides the order of the targets through queue sizes. */
  static final String CONFIG = """
      apiVersion: inference.networking.x-k8s.io/v1alpha1
      kind: EndpointPickerConfig
      plugins:
      - type: queue-scorer
      - type: openai-parser
      - type: max-score-picker
        parameters:
          maxNumOfEndpoints: 2
      schedulingProfiles:
      - name: default
        plugins:
        - pluginRef: queue-scorer
        - pluginRef: max-score-picker
      parser:
        pluginRef: openai-parser
      """;

  final EndpointPool pool = new EndpointPool();
  final Director director = Director.builder(EndpointPickerConfig.parse(CONFIG), pool).build();
  private static final char[] PASSWORD = "changeit".toCharArray();

  private final Server server;

  /** A plaintext EPP. */
  TestEpp() {
    this(null);
  }

  /** An EPP serving TLS with the key in {@code keyStore} (PKCS#12, password {@code changeit}), or plaintext if null. */
  TestEpp(Path keyStore) {
    this(keyStore, 0);
  }

  /** An EPP as {@link #TestEpp(Path)} on {@code port}; 0 picks a free one. */
  TestEpp(Path keyStore, int port) {
    NettyServerBuilder builder = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", port))
        .addService(ExtProcService.builder(director).build());
    try {
      if (keyStore != null) {
        KeyStore store = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(keyStore)) {
          store.load(in, PASSWORD);
        }
        KeyManagerFactory keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        keys.init(store, PASSWORD);
        builder.sslContext(GrpcSslContexts.configure(SslContextBuilder.forServer(keys)).build());
      }
      server = builder.build().start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Makes a self-signed key pair for {@code CN=epp} with the JDK's keytool, as the Go EPP makes one at start. */
  static Path selfSignedKeyStore(Path dir) throws IOException, InterruptedException {
    Path file = dir.resolve("epp.p12");
    Process keytool = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
        "-genkeypair", "-keystore", file.toString(), "-storetype", "PKCS12", "-storepass", new String(PASSWORD),
        "-alias", "epp", "-keyalg", "EC", "-dname", "CN=epp", "-validity", "1")
        .redirectErrorStream(true)
        .start();
    String output = new String(keytool.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!keytool.waitFor(60, TimeUnit.SECONDS) || keytool.exitValue() != 0) {
      throw new IOException("keytool failed: " + output);
    }
    return file;
  }

  String address() {
    return "127.0.0.1:" + port();
  }

  int port() {
    return server.getPort();
  }

  /** Adds the endpoint at {@code 127.0.0.1:port} with a waiting queue of {@code queue}: shorter queues go first. */
  void endpoint(int port, int queue) {
    String name = "127.0.0.1:" + port;
    pool.upsert(Endpoint.of(name, "127.0.0.1", port));
    pool.updateMetrics(name,
        EndpointMetrics.builder().waitingQueueSize(queue).updatedNanos(System.nanoTime()).build());
  }

  @Override
  public void close() throws InterruptedException {
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }
}
