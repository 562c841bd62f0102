package dev.epp.metrics.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A minimal blocking HTTP/1.1 GET of one URL over one kept-alive plain-text connection: what the metrics scraper
 * needs per endpoint, at a fraction of the JDK client's per-request CPU. Understands {@code Content-Length},
 * {@code chunked} and read-to-close bodies, skips interim (1xx) responses, and reconnects after any failure or a
 * {@code Connection: close}. A kept-alive connection that fails before any byte of the response arrived (the server
 * closed it while it was idle) is replaced once within the same call, as the JDK client does for idempotent requests.
 * The header section of a response is limited to {@value #MAX_HEADER_BYTES} bytes.
 *
 * <p><b>Threading:</b> one {@link #get} at a time; {@link #close} may be called from any thread and makes a
 * blocked {@link #get} fail promptly.
 */
public final class PlainHttpGet implements AutoCloseable {

  private static final int READ_CHUNK = 16 * 1024;
  private static final int MAX_HEADER_BYTES = 64 * 1024;

  private final String host;
  private final int port;
  private final byte[] request;
  private final byte[] in = new byte[READ_CHUNK];
  private int inPos;
  private int inLimit;
  private volatile Socket socket;
  private volatile boolean closed;
  private InputStream input;
  private long deadlineNanos;
  private long timeoutMillis;
  private boolean keepAlive;
  private boolean received; // a byte of the current response has arrived
  private int headerBytes; // of the current response's header section

  /**
   * A client for {@code GET path} on {@code host:port}; the host is resolved on each (re)connection.
   *
   * @param host a name or IP address (IPv6 without brackets)
   */
  public PlainHttpGet(String host, int port, String path, String accept) {
    this.host = host;
    this.port = port;
    String hostHeader = (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    this.request = ("GET " + path + " HTTP/1.1\r\nHost: " + hostHeader + "\r\nAccept: " + accept
        + "\r\nUser-Agent: epp-java\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1);
  }

  /** A response: its status and, for status 200, the body {@code bytes[0, length)}. */
  public record Response(int status, byte[] bytes, int length) {}

  /**
   * Sends the request and reads the response within {@code timeoutMillis}, connecting first if needed.
   *
   * @param buffer a buffer for the body to reuse (grown as needed, up to {@code maxBytes}), or {@code null}
   * @throws IOException on any failure: connection, timeout ({@link HttpTimeoutException}), malformed response,
   *     or a body over {@code maxBytes} ({@link CappedBody.TooLargeException}); the connection is then closed
   */
  public Response get(byte[] buffer, int maxBytes, long timeoutMillis) throws IOException {
    this.timeoutMillis = timeoutMillis;
    this.deadlineNanos = System.nanoTime() + timeoutMillis * 1_000_000L;
    boolean keep = false;
    try {
      Socket s = socket;
      boolean reused = s != null;
      if (s == null) {
        s = connect();
      }
      Response response;
      try {
        response = exchange(s, buffer, maxBytes);
      } catch (IOException e) {
        if (!reused || received || e instanceof SocketTimeoutException || e instanceof HttpTimeoutException) {
          throw e;
        }
        // The server closed the idle connection before it read the request: once more on a new one.
        disconnect();
        response = exchange(connect(), buffer, maxBytes);
      }
      // Bytes beyond the response would be read as the start of the next one.
      keep = response.status() == 200 && keepAlive && inPos == inLimit;
      return response;
    } catch (SocketTimeoutException e) {
      throw timeout();
    } finally {
      if (!keep) {
        disconnect();
      }
    }
  }

  private Response exchange(Socket s, byte[] buffer, int maxBytes) throws IOException {
    received = false;
    OutputStream out = s.getOutputStream();
    out.write(request);
    out.flush();
    return read(buffer, maxBytes);
  }

  private Socket connect() throws IOException {
    if (closed) {
      throw new IOException("closed");
    }
    Socket s = new Socket();
    socket = s;
    if (closed) { // close() ran between the check and the assignment
      s.close();
      throw new IOException("closed");
    }
    s.setTcpNoDelay(true);
    s.connect(new InetSocketAddress(host, port), remainingMillis());
    input = s.getInputStream();
    inPos = 0;
    inLimit = 0;
    return s;
  }

  private Response read(byte[] buffer, int maxBytes) throws IOException {
    int status;
    long contentLength;
    boolean chunked;
    boolean transferEncoding;
    boolean close;
    while (true) {
      headerBytes = 0;
      String statusLine = line();
      if (!statusLine.startsWith("HTTP/1.") || statusLine.length() < 12 || statusLine.charAt(8) != ' '
          || (statusLine.length() > 12 && statusLine.charAt(12) != ' ')) {
        throw new IOException("malformed status line: " + statusLine);
      }
      status = parseStatus(statusLine);
      contentLength = -1;
      chunked = false;
      transferEncoding = false;
      close = statusLine.startsWith("HTTP/1.0");
      for (String header = line(); !header.isEmpty(); header = line()) {
        int colon = header.indexOf(':');
        if (colon <= 0) {
          throw new IOException("malformed header: " + header);
        }
        String name = header.substring(0, colon).trim();
        String value = header.substring(colon + 1).trim();
        if (name.equalsIgnoreCase("Content-Length")) {
          long length = parseLength(value, 10, "Content-Length");
          if (contentLength >= 0 && length != contentLength) {
            throw new IOException("conflicting Content-Length: " + contentLength + " and " + value);
          }
          contentLength = length;
        } else if (name.equalsIgnoreCase("Transfer-Encoding")) {
          // The last coding of the last field decides; a body not ending in chunked runs to the close.
          transferEncoding = true;
          String v = value.toLowerCase(java.util.Locale.ROOT);
          int comma = v.lastIndexOf(',');
          chunked = (comma >= 0 ? v.substring(comma + 1) : v).trim().equals("chunked");
        } else if (name.equalsIgnoreCase("Connection")) {
          String v = value.toLowerCase(java.util.Locale.ROOT);
          if (v.contains("close")) {
            close = true;
          } else if (v.contains("keep-alive")) {
            close = false;
          }
        }
      }
      if (status >= 200 || status == 101) {
        break;
      }
      // An interim response (100 Continue, 103 Early Hints) has no body; the final one follows.
    }
    if (transferEncoding) {
      // RFC 9112 6.3: Transfer-Encoding overrides Content-Length; a response with both is not trusted for reuse.
      if (contentLength >= 0) {
        close = true;
      }
      contentLength = -1;
    }
    keepAlive = !close;
    if (status != 200) {
      return new Response(status, buffer, 0);
    }
    if (contentLength > maxBytes) {
      throw new CappedBody.TooLargeException(
          "Content-Length " + contentLength + " exceeds the cap of " + maxBytes + " bytes");
    }
    byte[] body = buffer != null ? buffer : new byte[Math.min(maxBytes, 64 * 1024)];
    int length = 0;
    if (chunked) {
      while (true) {
        headerBytes = 0;
        String sizeLine = line();
        int semicolon = sizeLine.indexOf(';');
        long size = parseLength((semicolon >= 0 ? sizeLine.substring(0, semicolon) : sizeLine).trim(), 16,
            "chunk size");
        if (size == 0) {
          headerBytes = 0;
          while (!line().isEmpty()) {
            // trailers, ignored
          }
          break;
        }
        if (size > maxBytes - length) {
          throw new CappedBody.TooLargeException("body exceeds the cap of " + maxBytes + " bytes");
        }
        body = ensure(body, length + (int) size, maxBytes);
        readFully(body, length, (int) size);
        length += (int) size;
        if (!line().isEmpty()) {
          throw new IOException("malformed chunk end");
        }
      }
    } else if (contentLength >= 0) {
      body = ensure(body, (int) contentLength, maxBytes);
      readFully(body, 0, (int) contentLength);
      length = (int) contentLength;
    } else {
      keepAlive = false;
      while (true) {
        if (length >= body.length || length >= maxBytes) {
          if (length >= maxBytes) {
            if (inPos == inLimit && fill() < 0) {
              break;
            }
            throw new CappedBody.TooLargeException("body exceeds the cap of " + maxBytes + " bytes");
          }
          body = ensure(body, length + 1, maxBytes);
        }
        int n = readSome(body, length, Math.min(body.length, maxBytes) - length);
        if (n < 0) {
          break;
        }
        length += n;
      }
    }
    return new Response(status, body, length);
  }

  private static int parseStatus(String statusLine) throws IOException {
    int code = 0;
    for (int i = 9; i < 12; i++) {
      char c = statusLine.charAt(i);
      if (c < '0' || c > '9') {
        throw new IOException("malformed status line: " + statusLine);
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

  private static byte[] ensure(byte[] body, int size, int maxBytes) {
    if (size <= body.length) {
      return body;
    }
    return Arrays.copyOf(body, (int) Math.min(maxBytes, Math.max(size, 2L * body.length)));
  }

  /**
   * A header line without its CRLF (or LF), as ISO-8859-1; fails once the lines since {@link #headerBytes} was reset
   * exceed {@value #MAX_HEADER_BYTES} bytes.
   */
  private String line() throws IOException {
    String line = nextLine();
    headerBytes += line.length() + 2;
    if (headerBytes > MAX_HEADER_BYTES) {
      throw new IOException("header section longer than " + MAX_HEADER_BYTES + " bytes");
    }
    return line;
  }

  private String nextLine() throws IOException {
    StringBuilder sb = null;
    int total = 0;
    while (true) {
      for (int i = inPos; i < inLimit; i++) {
        if (in[i] == '\n') {
          int end = i > inPos && in[i - 1] == '\r' ? i - 1 : i;
          String part = new String(in, inPos, end - inPos, StandardCharsets.ISO_8859_1);
          inPos = i + 1;
          if (sb == null) {
            return part;
          }
          String line = sb.append(part).toString();
          return line.endsWith("\r") ? line.substring(0, line.length() - 1) : line;
        }
      }
      total += inLimit - inPos;
      if (total > MAX_HEADER_BYTES) {
        throw new IOException("header line longer than " + MAX_HEADER_BYTES + " bytes");
      }
      if (sb == null) {
        sb = new StringBuilder();
      }
      sb.append(new String(in, inPos, inLimit - inPos, StandardCharsets.ISO_8859_1));
      inPos = inLimit;
      if (fill() < 0) {
        throw new IOException("connection closed before the end of the headers");
      }
    }
  }

  private void readFully(byte[] dst, int off, int len) throws IOException {
    while (len > 0) {
      int n = readSome(dst, off, len);
      if (n < 0) {
        throw new IOException("connection closed " + len + " bytes before the end of the body");
      }
      off += n;
      len -= n;
    }
  }

  /** Reads up to {@code len} bytes, buffered bytes first; -1 at the end of the stream. */
  private int readSome(byte[] dst, int off, int len) throws IOException {
    if (inPos < inLimit) {
      int n = Math.min(len, inLimit - inPos);
      System.arraycopy(in, inPos, dst, off, n);
      inPos += n;
      return n;
    }
    setTimeout();
    int n = input.read(dst, off, len);
    received |= n > 0;
    return n;
  }

  /** Refills the (empty) read buffer; -1 at the end of the stream. */
  private int fill() throws IOException {
    setTimeout();
    int n = input.read(in, 0, in.length);
    inPos = 0;
    inLimit = Math.max(n, 0);
    received |= n > 0;
    return n;
  }

  private void setTimeout() throws IOException {
    Socket s = socket;
    if (s == null) {
      throw new IOException("closed");
    }
    s.setSoTimeout(remainingMillis());
  }

  private int remainingMillis() throws HttpTimeoutException {
    long remaining = (deadlineNanos - System.nanoTime()) / 1_000_000L;
    if (remaining <= 0) {
      throw timeout();
    }
    return (int) Math.min(Integer.MAX_VALUE, remaining);
  }

  private HttpTimeoutException timeout() {
    return new HttpTimeoutException("no complete response within " + timeoutMillis + " ms");
  }

  private void disconnect() {
    Socket s = socket;
    socket = null;
    input = null;
    inPos = 0;
    inLimit = 0;
    if (s != null) {
      try {
        s.close();
      } catch (IOException ignored) {
        // nothing to do
      }
    }
  }

  /** Closes the connection and fails a {@link #get} in progress and every later one. */
  @Override
  public void close() {
    closed = true;
    Socket s = socket;
    if (s != null) {
      try {
        s.close();
      } catch (IOException ignored) {
        // nothing to do
      }
    }
  }
}
