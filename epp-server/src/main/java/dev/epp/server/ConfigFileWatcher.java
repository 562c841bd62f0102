package dev.epp.server;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Objects;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Polls a configuration file and hands over its content when it changed: a change is handed over once two
 * consecutive {@link #poll()}s read the same bytes (the writer may not have finished), and only once. The file is
 * opened through its path each time, so a Kubernetes ConfigMap volume's symlink swap ({@code ..data} pointing to a new
 * directory) is seen. A file that cannot be read, or is larger than {@link #MAX_FILE_BYTES}, is logged once per
 * trouble and otherwise ignored.
 *
 * <p><b>Threading:</b> {@link #poll()} is called by one thread at a time.
 */
final class ConfigFileWatcher {

  private static final Logger log = LoggerFactory.getLogger(ConfigFileWatcher.class);

  /** The largest configuration file read. */
  static final int MAX_FILE_BYTES = 1 << 20;

  private final Path file;
  private final Consumer<byte[]> changed;
  private byte[] current;
  private byte[] pending; // new content seen by the latest read, handed over if the next read finds it again
  private String trouble;

  /**
   * A watcher of {@code file}, whose content is {@code current} now (what the running configuration was loaded from);
   * {@code changed} gets each new content.
   */
  ConfigFileWatcher(Path file, byte[] current, Consumer<byte[]> changed) {
    this.file = Objects.requireNonNull(file, "file");
    this.current = current.clone();
    this.changed = Objects.requireNonNull(changed, "changed");
  }

  /** Reads the file once; hands its content over if it changed and the previous poll read the same. */
  void poll() {
    byte[] bytes;
    try {
      bytes = read(file);
    } catch (IOException e) {
      pending = null;
      troubled(e instanceof NoSuchFileException ? "no such file" : e.getMessage());
      return;
    }
    troubled(null);
    if (Arrays.equals(bytes, current)) {
      pending = null;
    } else if (!Arrays.equals(bytes, pending)) {
      pending = bytes;
    } else {
      pending = null;
      current = bytes;
      changed.accept(bytes);
    }
  }

  /** The file's bytes, at most {@link #MAX_FILE_BYTES} of them. */
  static byte[] read(Path file) throws IOException {
    byte[] bytes;
    try (InputStream in = Files.newInputStream(file)) {
      bytes = in.readNBytes(MAX_FILE_BYTES + 1);
    }
    if (bytes.length > MAX_FILE_BYTES) {
      throw new IOException("larger than " + MAX_FILE_BYTES + " bytes");
    }
    return bytes;
  }

  private void troubled(String reason) {
    if (Objects.equals(reason, trouble)) {
      return;
    }
    if (reason != null) {
      log.warn("Configuration file {} cannot be read: {}; keeping the current configuration", file, reason);
    }
    trouble = reason;
  }
}
