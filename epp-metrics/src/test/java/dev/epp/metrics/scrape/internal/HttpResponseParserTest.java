package dev.epp.metrics.scrape.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The response parser fed the same bytes in reads of every size: the result must not depend on the split. */
class HttpResponseParserTest {

  /** Hands out {@code bytes} at most {@code piece} bytes per read, then 0 (nothing yet) or -1 (closed). */
  private static final class Drip implements ReadableByteChannel {
    private final byte[] bytes;
    private final int piece;
    private final boolean closeAtEnd;
    private int pos;

    Drip(String text, int piece, boolean closeAtEnd) {
      this.bytes = text.getBytes(StandardCharsets.ISO_8859_1);
      this.piece = piece;
      this.closeAtEnd = closeAtEnd;
    }

    @Override
    public int read(ByteBuffer dst) {
      if (pos == bytes.length) {
        return closeAtEnd ? -1 : 0;
      }
      int n = Math.min(Math.min(piece, dst.remaining()), bytes.length - pos);
      dst.put(bytes, pos, n);
      pos += n;
      return n;
    }

    @Override
    public boolean isOpen() {
      return true;
    }

    @Override
    public void close() {}
  }

  /** Reads and parses until complete; fails if it stalls without completing. */
  private static HttpResponseParser parse(String response, int piece, int maxBytes, boolean closeAtEnd)
      throws IOException {
    HttpResponseParser parser = new HttpResponseParser(maxBytes);
    parser.start(null);
    Drip drip = new Drip(response, piece, closeAtEnd);
    while (true) {
      int n = parser.readFrom(drip);
      if (n == 0) {
        throw new AssertionError("stalled before the response was complete");
      }
      if (parser.advance(n < 0)) {
        return parser;
      }
    }
  }

  private static String body(HttpResponseParser parser) {
    return new String(parser.buffer(), 0, parser.bodyLength(), StandardCharsets.ISO_8859_1);
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 3, 7, 64, 1 << 20})
  void framingDoesNotDependOnHowReadsSplitTheBytes(int piece) throws IOException {
    HttpResponseParser fixed = parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", piece, 1 << 20, false);
    assertEquals("hello", body(fixed));
    assertTrue(fixed.reusable());

    HttpResponseParser chunked = parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
        + "\r\n4;ext=1\r\nabcd\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer: x\r\n\r\n", piece, 1 << 20, false);
    assertEquals("abcd0123456789abcdef", body(chunked));
    assertTrue(chunked.reusable());

    HttpResponseParser untilClose = parse("HTTP/1.1 200 OK\r\n\r\nuntil the end", piece, 1 << 20, true);
    assertEquals("until the end", body(untilClose));
    assertFalse(untilClose.reusable());

    HttpResponseParser bareLf = parse("HTTP/1.1 200 OK\nContent-Length: 2\n\nok", piece, 1 << 20, false);
    assertEquals("ok", body(bareLf));
  }

  @ParameterizedTest
  @ValueSource(ints = {1000, 4093, 70_000})
  void largeChunkedBodiesGrowTheBufferAndDecodeExactly(int piece) throws IOException {
    byte[] page = new byte[300_000];
    Random random = new Random(piece);
    for (int i = 0; i < page.length; i++) {
      page[i] = (byte) ('a' + random.nextInt(26));
    }
    StringBuilder response = new StringBuilder("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int off = 0; off < page.length; off += 777) {
      int n = Math.min(777, page.length - off);
      response.append(Integer.toHexString(n)).append("\r\n")
          .append(new String(page, off, n, StandardCharsets.ISO_8859_1)).append("\r\n");
    }
    response.append("0\r\n\r\n");
    HttpResponseParser parser = parse(response.toString(), piece, 1 << 20, false);
    assertEquals(new String(page, StandardCharsets.ISO_8859_1), body(parser));
    assertTrue(parser.reusable());
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 5, 1 << 20})
  void connectionReuseNeedsStatus200TrustedFramingNoCloseAndNoExtraBytes(int piece) throws IOException {
    assertFalse(parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokJUNK", 1 << 20, 100, false).reusable(),
        "bytes beyond the response arrived with it");
    assertFalse(parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", piece, 100, false)
        .reusable());
    assertFalse(parse("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", piece, 100, false).reusable());
    assertTrue(parse("HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok", piece, 100, false)
        .reusable());
    HttpResponseParser both = parse(
        "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", piece, 100,
        false);
    assertEquals("ok", body(both));
    assertFalse(both.reusable(), "Transfer-Encoding with Content-Length is not trusted for reuse");
    HttpResponseParser notFound = parse("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\n", piece, 100, false);
    assertEquals(404, notFound.status());
    assertEquals(0, notFound.bodyLength());
    assertFalse(notFound.reusable());
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 3, 1 << 20})
  void bodiesOverTheCapFailAndExactlyTheCapPasses(int piece) throws IOException {
    assertThrows(CappedBody.TooLargeException.class,
        () -> parse("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n01234567890", piece, 10, false));
    assertThrows(CappedBody.TooLargeException.class, () -> parse(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n01234567\r\n8\r\n01234567\r\n0\r\n\r\n", piece, 10,
        false));
    assertThrows(CappedBody.TooLargeException.class,
        () -> parse("HTTP/1.1 200 OK\r\n\r\n0123456789A", piece, 10, true));
    assertEquals("0123456789", body(parse("HTTP/1.1 200 OK\r\n\r\n0123456789", piece, 10, true)));
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "SSH-2.0-OpenSSH\r\n\r\n",
      "HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok",
      "HTTP/1.1 200 OK\r\nNo colon\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\nabc",
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde",
      "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n\r\n0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX\r\n0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n",
      "HTTP/1.1 200 OK\r\nContent-Le",
      ""})
  void malformedOrTruncatedResponsesFail(String response) {
    for (int piece : new int[] {1, 4, 1 << 20}) {
      IOException e = assertThrows(IOException.class, () -> parse(response, piece, 1 << 20, true), response);
      assertFalse(e instanceof CappedBody.TooLargeException, e.toString());
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 100, 1 << 20})
  void headerSectionsChunkLinesAndTrailersAreLimited(int piece) {
    String filler = "X-Filler: " + "x".repeat(1000) + "\r\n";
    String tooManyHeaders = "HTTP/1.1 200 OK\r\n" + filler.repeat(70) + "\r\n";
    IOException headers = assertThrows(IOException.class, () -> parse(tooManyHeaders, piece, 1 << 20, false));
    assertTrue(headers.getMessage().startsWith("header section longer than"), headers.toString());

    String longLine = "HTTP/1.1 200 OK\r\nX-Long: " + "y".repeat(70_000);
    IOException line = assertThrows(IOException.class, () -> parse(longLine, piece, 1 << 20, false));
    assertTrue(line.getMessage().startsWith("header section longer than"), line.toString());

    String trailers = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n" + filler.repeat(70);
    IOException trailer = assertThrows(IOException.class, () -> parse(trailers, piece, 1 << 20, false));
    assertTrue(trailer.getMessage().startsWith("header section longer than"), trailer.toString());
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 9, 1 << 20})
  void aReleasedBufferServesTheNextResponse(int piece) throws IOException {
    HttpResponseParser parser = new HttpResponseParser(1 << 20);
    byte[] buffer = null;
    for (String text : new String[] {"first", "second response"}) {
      parser.start(buffer);
      Drip drip = new Drip("HTTP/1.1 200 OK\r\nContent-Length: " + text.length() + "\r\n\r\n" + text, piece, false);
      boolean complete = false;
      while (!complete) {
        int n = parser.readFrom(drip);
        assertTrue(n > 0, "stalled");
        complete = parser.advance(false);
      }
      assertEquals(text, body(parser));
      buffer = parser.release();
    }
  }
}
