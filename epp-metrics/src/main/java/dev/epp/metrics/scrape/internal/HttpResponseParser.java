package dev.epp.metrics.scrape.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Locale;

/**
 * An incremental parser of one HTTP/1.1 response to a GET, fed by non-blocking reads. Understands
 * {@code Content-Length}, {@code chunked} and read-to-close bodies and skips interim (1xx) responses. The body is
 * decoded in place: when the response is {@linkplain #advance complete}, its bytes are {@code buffer()[0,
 * bodyLength())}. Bodies are capped while they are read; each header section, chunk-size line and trailer section is
 * limited to {@value #MAX_HEADER_BYTES} bytes. Parsing is linear in the bytes received however they are split into
 * reads.
 *
 * <p>Not thread-safe; reusable: {@link #start} before each response, {@link #release} after it.
 */
public final class HttpResponseParser {

  static final int MAX_HEADER_BYTES = 64 * 1024;
  private static final int MIN_READ = 16 * 1024;
  private static final int INITIAL_BUFFER_BYTES = 64 * 1024;

  private enum Phase { STATUS, HEADERS, FIXED, CHUNK_SIZE, CHUNK_DATA, CHUNK_END, TRAILERS, UNTIL_CLOSE, DONE }

  private final int maxBytes;
  private final int capacityLimit;
  private byte[] buffer;
  // buffer = [decoded body 0, body) [consumed, body..pos) [unparsed, pos..filled)
  private int body;
  private int pos;
  private int filled;
  private int scanned; // the current line has no '\n' in [pos, scanned)
  private int headerBytes;
  private Phase phase;
  private long remaining; // of the fixed-length body or the current chunk
  private int status;
  private long contentLength;
  private boolean transferEncoding;
  private boolean chunked;
  private boolean close;
  private String contentEncoding;

  /** A parser accepting bodies of up to {@code maxBytes}. */
  public HttpResponseParser(int maxBytes) {
    this.maxBytes = maxBytes;
    this.capacityLimit = (int) Math.min(Integer.MAX_VALUE - 8, (long) maxBytes + MAX_HEADER_BYTES + MIN_READ);
  }

  /**
   * Begins a response, forgetting any previous one.
   *
   * @param buffer the buffer to read into (grown as needed), or null for a new one
   */
  public void start(byte[] buffer) {
    this.buffer = buffer != null ? buffer : new byte[Math.min(capacityLimit, INITIAL_BUFFER_BYTES)];
    body = 0;
    pos = 0;
    filled = 0;
    scanned = 0;
    headerBytes = 0;
    phase = Phase.STATUS;
  }

  /** Reads what {@code channel} has into the buffer; the byte count, 0 if none is ready, or -1 at its end. */
  public int readFrom(ReadableByteChannel channel) throws IOException {
    if (buffer.length - filled < MIN_READ && buffer.length < capacityLimit) {
      buffer = Arrays.copyOf(buffer, (int) Math.min(capacityLimit, Math.max(2L * buffer.length, filled + MIN_READ)));
    }
    if (filled == buffer.length) {
      throw new IOException("response larger than " + capacityLimit + " bytes");
    }
    int n = channel.read(ByteBuffer.wrap(buffer, filled, buffer.length - filled));
    if (n > 0) {
      filled += n;
    }
    return n;
  }

  /**
   * Parses the bytes read so far.
   *
   * @param eof whether the connection has ended (no more bytes will come)
   * @return whether the response is complete
   * @throws IOException if the response is malformed, ends early, or its body exceeds the cap
   *     ({@link CappedBody.TooLargeException})
   */
  public boolean advance(boolean eof) throws IOException {
    while (true) {
      switch (phase) {
        case STATUS -> {
          String line = line(eof);
          if (line == null) {
            return pause();
          }
          status = parseStatus(line);
          contentLength = -1;
          transferEncoding = false;
          chunked = false;
          contentEncoding = null;
          close = line.startsWith("HTTP/1.0");
          phase = Phase.HEADERS;
        }
        case HEADERS -> {
          String line = line(eof);
          if (line == null) {
            return pause();
          }
          if (line.isEmpty()) {
            endOfHeaders();
          } else {
            header(line);
          }
        }
        case FIXED, CHUNK_DATA -> {
          int n = (int) Math.min(remaining, filled - pos);
          take(n);
          remaining -= n;
          if (remaining > 0) {
            if (eof) {
              throw new IOException("connection closed " + remaining + " bytes before the end of the body");
            }
            return pause();
          }
          if (phase == Phase.FIXED) {
            phase = Phase.DONE;
          } else {
            phase = Phase.CHUNK_END;
            headerBytes = 0;
          }
        }
        case CHUNK_SIZE -> {
          String line = line(eof);
          if (line == null) {
            return pause();
          }
          int semicolon = line.indexOf(';');
          long size = parseLength((semicolon >= 0 ? line.substring(0, semicolon) : line).trim(), 16, "chunk size");
          headerBytes = 0;
          if (size == 0) {
            phase = Phase.TRAILERS;
          } else if (size > maxBytes - body) {
            throw new CappedBody.TooLargeException("body exceeds the cap of " + maxBytes + " bytes");
          } else {
            remaining = size;
            phase = Phase.CHUNK_DATA;
          }
        }
        case CHUNK_END -> {
          String line = line(eof);
          if (line == null) {
            return pause();
          }
          if (!line.isEmpty()) {
            throw new IOException("malformed chunk end");
          }
          headerBytes = 0;
          phase = Phase.CHUNK_SIZE;
        }
        case TRAILERS -> {
          String line = line(eof);
          if (line == null) {
            return pause();
          }
          if (line.isEmpty()) {
            phase = Phase.DONE;
          }
        }
        case UNTIL_CLOSE -> {
          take(filled - pos);
          if (body > maxBytes) {
            throw new CappedBody.TooLargeException("body exceeds the cap of " + maxBytes + " bytes");
          }
          if (!eof) {
            return pause();
          }
          phase = Phase.DONE;
        }
        case DONE -> {
          return true;
        }
      }
    }
  }

  /** The status of the complete response. */
  public int status() {
    return status;
  }

  /**
   * Whether the connection may carry the next request: the response is complete with status 200, its framing is
   * trusted, the server did not ask to close, and no byte beyond the response has arrived.
   */
  public boolean reusable() {
    return phase == Phase.DONE && status == 200 && !close && pos == filled;
  }

  /**
   * The response's {@code Content-Encoding} (lower case) if it is not {@code identity}, or null: a body so encoded is
   * not decoded here.
   */
  public String contentEncoding() {
    return contentEncoding;
  }

  /** The failure for a page sent with {@code Content-Encoding: encoding}, which scrapers do not decode. */
  public static IOException encodedBody(String encoding) {
    return new IOException("the server sent the page with Content-Encoding: " + encoding
        + " although asked for identity; compressed pages are not decoded (serve /metrics uncompressed)");
  }

  /**
   * The buffer holding the decoded body at {@code [0, bodyLength())}; replaced as it grows; null before {@link #start}
   * and after {@link #release}.
   */
  public byte[] buffer() {
    return buffer;
  }

  /** Hands back the buffer for reuse; the parser needs a {@link #start} before it reads again. */
  public byte[] release() {
    byte[] b = buffer;
    buffer = null;
    return b;
  }

  /** The length of the decoded body: 0 unless the status is 200. */
  public int bodyLength() {
    return body;
  }

  private void endOfHeaders() throws IOException {
    headerBytes = 0;
    if (status < 200 && status != 101) {
      phase = Phase.STATUS; // an interim response (100 Continue, 103 Early Hints); the final one follows
      return;
    }
    if (transferEncoding) {
      // RFC 9112 6.3: Transfer-Encoding overrides Content-Length; a response with both is not trusted for reuse.
      close |= contentLength >= 0;
      contentLength = -1;
    }
    if (status != 200) {
      close = true; // the body is not read
      phase = Phase.DONE;
    } else if (chunked) {
      phase = Phase.CHUNK_SIZE;
    } else if (contentLength > maxBytes) {
      throw new CappedBody.TooLargeException(
          "Content-Length " + contentLength + " exceeds the cap of " + maxBytes + " bytes");
    } else if (contentLength >= 0) {
      remaining = contentLength;
      phase = Phase.FIXED;
    } else {
      close = true;
      phase = Phase.UNTIL_CLOSE;
    }
  }

  private void header(String line) throws IOException {
    int colon = line.indexOf(':');
    if (colon <= 0) {
      throw new IOException("malformed header: " + line);
    }
    String name = line.substring(0, colon).trim();
    String value = line.substring(colon + 1).trim();
    if (name.equalsIgnoreCase("Content-Length")) {
      long length = parseLength(value, 10, "Content-Length");
      if (contentLength >= 0 && length != contentLength) {
        throw new IOException("conflicting Content-Length: " + contentLength + " and " + value);
      }
      contentLength = length;
    } else if (name.equalsIgnoreCase("Transfer-Encoding")) {
      // The last coding of the last field decides; a body not ending in chunked runs to the close.
      transferEncoding = true;
      String v = value.toLowerCase(Locale.ROOT);
      int comma = v.lastIndexOf(',');
      chunked = (comma >= 0 ? v.substring(comma + 1) : v).trim().equals("chunked");
    } else if (name.equalsIgnoreCase("Content-Encoding")) {
      String v = value.toLowerCase(Locale.ROOT);
      if (!v.isEmpty() && !v.equals("identity")) {
        contentEncoding = v;
      }
    } else if (name.equalsIgnoreCase("Connection")) {
      String v = value.toLowerCase(Locale.ROOT);
      if (v.contains("close")) {
        close = true;
      } else if (v.contains("keep-alive")) {
        close = false;
      }
    }
  }

  /**
   * The next line without its CRLF (or LF), as ISO-8859-1, or null if it has not fully arrived; fails once the lines
   * since {@link #headerBytes} was reset exceed {@value #MAX_HEADER_BYTES} bytes, or at the end of the connection.
   */
  private String line(boolean eof) throws IOException {
    for (int i = Math.max(pos, scanned); i < filled; i++) {
      if (buffer[i] == '\n') {
        headerBytes += i + 1 - pos;
        checkHeaderBytes(0);
        int end = i > pos && buffer[i - 1] == '\r' ? i - 1 : i;
        String line = new String(buffer, pos, end - pos, StandardCharsets.ISO_8859_1);
        pos = i + 1;
        scanned = pos;
        return line;
      }
    }
    scanned = filled;
    checkHeaderBytes(filled - pos);
    if (eof) {
      throw new IOException("connection closed before the end of the " + (phase == Phase.STATUS
          || phase == Phase.HEADERS ? "headers" : "body"));
    }
    return null;
  }

  private void checkHeaderBytes(int pending) throws IOException {
    if (headerBytes + pending > MAX_HEADER_BYTES) {
      throw new IOException("header section longer than " + MAX_HEADER_BYTES + " bytes");
    }
  }

  /** Moves {@code n} unparsed bytes to the end of the decoded body. */
  private void take(int n) {
    if (pos != body) {
      System.arraycopy(buffer, pos, buffer, body, n);
    }
    body += n;
    pos += n;
  }

  /** Drops consumed bytes, so unparsed ones follow the body, and reports the response incomplete. */
  private boolean pause() {
    int gap = pos - body;
    if (gap > 0) {
      System.arraycopy(buffer, pos, buffer, body, filled - pos);
      filled -= gap;
      scanned -= gap;
      pos = body;
    }
    return false;
  }

  private static int parseStatus(String line) throws IOException {
    if (!line.startsWith("HTTP/1.") || line.length() < 12 || line.charAt(8) != ' '
        || (line.length() > 12 && line.charAt(12) != ' ')) {
      throw new IOException("malformed status line: " + line);
    }
    int code = 0;
    for (int i = 9; i < 12; i++) {
      char c = line.charAt(i);
      if (c < '0' || c > '9') {
        throw new IOException("malformed status line: " + line);
      }
      code = code * 10 + (c - '0');
    }
    return code;
  }

  /** A non-negative length of digits only (no sign, no overflow) in {@code radix}. */
  private static long parseLength(String value, int radix, String what) throws IOException {
    if (value.isEmpty() || value.length() > 15 || Character.digit(value.charAt(0), radix) < 0) {
      throw new IOException("malformed " + what + ": " + value);
    }
    try {
      return Long.parseLong(value, radix);
    } catch (NumberFormatException e) {
      throw new IOException("malformed " + what + ": " + value);
    }
  }
}
