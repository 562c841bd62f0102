package dev.epp.server;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Records what slf4j-simple logs (it writes to the current {@code System.err}) while open, still passing it on.
 * Lines look like {@code [thread] WARN dev.epp.server.EppServer - message}.
 */
final class LogCapture implements AutoCloseable {

  private final PrintStream original = System.err;
  private final ByteArrayOutputStream captured = new ByteArrayOutputStream();

  LogCapture() {
    OutputStream tee = new OutputStream() {
      @Override
      public void write(int b) {
        original.write(b);
        captured.write(b);
      }

      @Override
      public void write(byte[] b, int off, int len) {
        original.write(b, off, len);
        captured.write(b, off, len);
      }
    };
    System.setErr(new PrintStream(tee, true, StandardCharsets.UTF_8));
  }

  /** The lines logged so far. */
  List<String> lines() {
    return captured.toString(StandardCharsets.UTF_8).lines().toList();
  }

  /** The lines logged so far at {@code level} (e.g. {@code WARN}) that contain {@code text}. */
  List<String> lines(String level, String text) {
    return lines().stream().filter(l -> l.contains("] " + level + " ") && l.contains(text)).toList();
  }

  @Override
  public void close() {
    System.setErr(original);
  }
}
