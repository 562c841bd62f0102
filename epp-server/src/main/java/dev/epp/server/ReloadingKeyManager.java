package dev.epp.server;

import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.function.Supplier;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server's key and certificate chain from a certificate directory, reloaded when its files change (the Go EPP's
 * {@code --enable-cert-reload}). A reload that fails (a half-written file, a key that does not match) keeps the
 * previous pair and is logged; new TLS handshakes use the new pair, open connections keep theirs.
 *
 * <p>Each loaded pair has its own alias, so TLS providers that cache key material by alias pick up a change.
 *
 * <p><b>Threading:</b> thread-safe; {@link #reloadIfChanged()} is called from one polling thread.
 */
final class ReloadingKeyManager extends X509ExtendedKeyManager {

  private static final Logger log = LoggerFactory.getLogger(ReloadingKeyManager.class);

  /** One loaded key and chain. */
  record Material(PrivateKey key, X509Certificate[] chain) {}

  private final List<Path> files;
  private final Supplier<Material> loader;
  private volatile State state;

  private record State(String alias, Material material, String stamp) {}

  /**
   * Loads the first pair now.
   *
   * @param files the files whose modification times and sizes decide whether to reload
   * @param loader reads and validates the pair, throwing on any problem
   */
  ReloadingKeyManager(List<Path> files, Supplier<Material> loader) {
    this.files = List.copyOf(files);
    this.loader = loader;
    this.state = new State("epp-0", loader.get(), stamp());
  }

  /** Reloads the pair if a file changed since the last load; returns whether a new pair is in use. */
  boolean reloadIfChanged() {
    State current = state;
    String stamp = stamp();
    if (stamp.equals(current.stamp())) {
      return false;
    }
    try {
      Material material = loader.get();
      int generation = Integer.parseInt(current.alias().substring("epp-".length())) + 1;
      state = new State("epp-" + generation, material, stamp);
      log.info("Reloaded the TLS certificate from {}", files.get(0).getParent());
      return true;
    } catch (RuntimeException e) {
      log.warn("Keeping the current TLS certificate: {}", e.getMessage());
      state = new State(current.alias(), current.material(), stamp);
      return false;
    }
  }

  private String stamp() {
    StringBuilder sb = new StringBuilder();
    for (Path file : files) {
      try {
        sb.append(Files.getLastModifiedTime(file).toMillis()).append('/').append(Files.size(file)).append(';');
      } catch (java.io.IOException e) {
        sb.append("missing;");
      }
    }
    return sb.toString();
  }

  @Override
  public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
    return matches(keyType) ? state.alias() : null;
  }

  @Override
  public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
    return matches(keyType) ? state.alias() : null;
  }

  @Override
  public String[] getServerAliases(String keyType, Principal[] issuers) {
    return matches(keyType) ? new String[] {state.alias()} : null;
  }

  @Override
  public X509Certificate[] getCertificateChain(String alias) {
    State current = state;
    return current.alias().equals(alias) ? current.material().chain().clone() : null;
  }

  @Override
  public PrivateKey getPrivateKey(String alias) {
    State current = state;
    return current.alias().equals(alias) ? current.material().key() : null;
  }

  @Override
  public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
    return null;
  }

  @Override
  public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
    return null;
  }

  @Override
  public String[] getClientAliases(String keyType, Principal[] issuers) {
    return null;
  }

  private boolean matches(String keyType) {
    String algorithm = state.material().key().getAlgorithm();
    return keyType == null || keyType.equals(algorithm) || keyType.startsWith(algorithm + "_");
  }
}
