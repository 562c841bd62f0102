package dev.epp.testkit;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Records what slf4j-simple logs (it writes to the current {@code System.err}) while open, still passing it on.
 * Lines look like {@code [thread] WARN dev.epp.server.EppServer - message}.
 *
 * <p><b>Threading:</b> records every thread's lines; open one at a time, as it replaces {@code System.err}.
 */
public final class LogCapture implements AutoCloseable {

  private final PrintStream original = System.err;
  private final ByteArrayOutputStream captured = new ByteArrayOutputStream();

  /** Starts recording. */
  public LogCapture() {
    OutputStream tee = new OutputStream() {
      @Override
      public void write(int b) {
        original.write(b);
        synchronized (captured) {
          captured.write(b);
        }
      }

      @Override
      public void write(byte[] b, int off, int len) {
        original.write(b, off, len);
        synchronized (captured) {
          captured.write(b, off, len);
        }
      }
    };
    System.setErr(new PrintStream(tee, true, StandardCharsets.UTF_8));
  }

  /** The lines logged so far. */
  public List<String> lines() {
    synchronized (captured) {
      return captured.toString(StandardCharsets.UTF_8).lines().toList();
    }
  }

  /** The lines logged so far at {@code level} (e.g. {@code WARN}) that contain {@code text}. */
  public List<String> lines(String level, String text) {
    return lines().stream().filter(l -> l.contains("] " + level + " ") && l.contains(text)).toList();
  }

  /** Stops recording: {@code System.err} is what it was. */
  @Override
  public void close() {
    System.setErr(original);
  }
}
