package dev.epp.metrics.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The minimal client against a scripted loopback server: framing, keep-alive, caps, timeouts and close. */
class PlainHttpGetTest {

  /** Answers each request it reads with the next scripted response; counts connections and requests. */
  private static final class Scripted implements AutoCloseable {
    final ServerSocket server;
    final BlockingQueue<byte[]> responses = new LinkedBlockingQueue<>();
    final AtomicInteger connections = new AtomicInteger();
    final List<String> requests = new CopyOnWriteArrayList<>();
    final List<Socket> sockets = new CopyOnWriteArrayList<>();
    final Thread acceptor;

    Scripted() throws IOException {
      server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      acceptor = new Thread(() -> {
        try {
          while (true) {
            Socket s = server.accept();
            sockets.add(s);
            connections.incrementAndGet();
            Thread t = new Thread(() -> serve(s));
            t.setDaemon(true);
            t.start();
          }
        } catch (IOException closed) {
          // server closed
        }
      });
      acceptor.setDaemon(true);
      acceptor.start();
    }

    private void serve(Socket s) {
      try (s) {
        InputStream in = s.getInputStream();
        OutputStream out = s.getOutputStream();
        while (true) {
          ByteArrayOutputStream request = new ByteArrayOutputStream();
          int matched = 0;
          while (matched < 4) {
            int b = in.read();
            if (b < 0) {
              return;
            }
            request.write(b);
            matched = (b == "\r\n\r\n".charAt(matched)) ? matched + 1 : (b == '\r' ? 1 : 0);
          }
          requests.add(request.toString(StandardCharsets.ISO_8859_1));
          byte[] response = responses.take();
          if (response.length == 0) {
            Thread.sleep(60_000); // hang
          }
          out.write(response);
          out.flush();
          if (new String(response, StandardCharsets.ISO_8859_1).contains("Connection: close")) {
            return;
          }
        }
      } catch (IOException | InterruptedException e) {
        // connection gone
      }
    }

    PlainHttpGet client() {
      return new PlainHttpGet("127.0.0.1", server.getLocalPort(), "/metrics", "text/plain");
    }

    void respond(String response) {
      responses.add(response.getBytes(StandardCharsets.ISO_8859_1));
    }

    @Override
    public void close() throws IOException {
      server.close();
      for (Socket s : sockets) {
        s.close();
      }
    }
  }

  private final List<AutoCloseable> closeables = new ArrayList<>();

  private Scripted scripted() throws IOException {
    Scripted s = new Scripted();
    closeables.add(s);
    return s;
  }

  @AfterEach
  void closeAll() throws Exception {
    for (AutoCloseable c : closeables) {
      c.close();
    }
  }

  private static String body(PlainHttpGet.Response response) {
    return new String(response.bytes(), 0, response.length(), StandardCharsets.ISO_8859_1);
  }

  @Test
  void contentLengthBodiesOverOneKeptAliveConnection() throws Exception {
    Scripted server = scripted();
    PlainHttpGet client = server.client();
    server.respond("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
    server.respond("HTTP/1.1 200 OK\r\ncontent-length: 6\r\nX-Other: a:b\r\n\r\nworld!");
    assertEquals("hello", body(client.get(null, 1 << 20, 2000)));
    PlainHttpGet.Response second = client.get(new byte[2], 1 << 20, 2000); // grows the given buffer
    assertEquals("world!", body(second));
    assertEquals(1, server.connections.get());
    assertTrue(server.requests.get(0).startsWith("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:"), server.requests.get(0));
    assertTrue(server.requests.get(0).contains("\r\nAccept: text/plain\r\n"));
    client.close();
  }

  @Test
  void chunkedBodiesWithExtensionsAndTrailersAndInterimResponses() throws Exception {
    Scripted server = scripted();
    PlainHttpGet client = server.client();
    server.respond("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        + "4;ext=1\r\nabcd\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer: x\r\n\r\n");
    server.respond("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    assertEquals("abcd0123456789abcdef", body(client.get(null, 1 << 20, 2000)));
    assertEquals("ok", body(client.get(null, 1 << 20, 2000)));
    assertEquals(1, server.connections.get());
  }

  @Test
  void bodyUntilCloseAndConnectionCloseReconnect() throws Exception {
    Scripted server = scripted();
    PlainHttpGet client = server.client();
    server.respond("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end");
    server.respond("HTTP/1.0 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc");
    server.respond("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nxyz");
    assertEquals("until the end", body(client.get(null, 1 << 20, 2000)));
    assertEquals("abc", body(client.get(null, 1 << 20, 2000)));
    assertEquals("xyz", body(client.get(null, 1 << 20, 2000)));
    assertEquals(3, server.connections.get());
  }

  @Test
  void otherStatusesAreReturnedWithoutBodyAndReconnect() throws Exception {
    Scripted server = scripted();
    PlainHttpGet client = server.client();
    server.respond("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found");
    server.respond("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    PlainHttpGet.Response notFound = client.get(null, 1 << 20, 2000);
    assertEquals(404, notFound.status());
    assertEquals(0, notFound.length());
    assertEquals("ok", body(client.get(null, 1 << 20, 2000)));
    assertEquals(2, server.connections.get());
  }

  @Test
  void bodiesOverTheCapFail() throws Exception {
    Scripted server = scripted();
    PlainHttpGet client = server.client();
    server.respond("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n01234567890");
    server.respond("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n01234567\r\n8\r\n01234567\r\n0\r\n\r\n");
    server.respond("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n0123456789A");
    server.respond("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n0123456789");
    assertThrows(CappedBody.TooLargeException.class, () -> client.get(null, 10, 2000));
    assertThrows(CappedBody.TooLargeException.class, () -> client.get(null, 10, 2000));
    assertThrows(CappedBody.TooLargeException.class, () -> client.get(null, 10, 2000));
    assertEquals("0123456789", body(client.get(null, 10, 2000)), "exactly the cap until close is accepted");
  }

  @Test
  void malformedResponsesFail() throws Exception {
    Scripted server = scripted();
    PlainHttpGet client = server.client();
    server.respond("SSH-2.0-OpenSSH\r\n\r\n");
    server.respond("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n");
    server.respond("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    server.respond("HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nshort");
    for (int i = 0; i < 4; i++) {
      assertThrows(IOException.class, () -> client.get(null, 1 << 20, 2000));
    }
  }

  @Test
  void aHungServerTimesOutAndCloseUnblocks() throws Exception {
    Scripted server = scripted();
    PlainHttpGet client = server.client();
    server.responses.add(new byte[0]);
    long start = System.nanoTime();
    assertThrows(HttpTimeoutException.class, () -> client.get(null, 1 << 20, 200));
    assertTrue(System.nanoTime() - start < 5_000_000_000L);

    server.responses.add(new byte[0]);
    Thread closer = new Thread(() -> {
      try {
        Thread.sleep(200);
      } catch (InterruptedException e) {
        return;
      }
      client.close();
    });
    closer.start();
    start = System.nanoTime();
    assertThrows(IOException.class, () -> client.get(null, 1 << 20, 30_000));
    assertTrue(System.nanoTime() - start < 10_000_000_000L, "close() ended the blocked read");
    closer.join();
    assertThrows(IOException.class, () -> client.get(null, 1 << 20, 2000), "closed for good");
  }

  /** A server that answers one request per connection and then closes it, as on an idle keep-alive timeout. */
  @Test
  void aKeptAliveConnectionTheServerClosedWhileIdleIsReplacedNotFailed() throws Exception {
    try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      AtomicInteger connections = new AtomicInteger();
      Thread acceptor = new Thread(() -> {
        try {
          while (true) {
            try (Socket s = server.accept()) {
              connections.incrementAndGet();
              InputStream in = s.getInputStream();
              for (int matched = 0; matched < 4; ) {
                int b = in.read();
                if (b < 0) {
                  break;
                }
                matched = (b == "\r\n\r\n".charAt(matched)) ? matched + 1 : (b == '\r' ? 1 : 0);
              }
              s.getOutputStream().write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".getBytes(StandardCharsets.ISO_8859_1));
            } // closed without Connection: close
          }
        } catch (IOException closed) {
          // server closed
        }
      });
      acceptor.setDaemon(true);
      acceptor.start();
      PlainHttpGet client = new PlainHttpGet("127.0.0.1", server.getLocalPort(), "/metrics", "text/plain");
      for (int i = 0; i < 3; i++) {
        assertEquals("ok", body(client.get(null, 1 << 20, 2000)), "poll " + i);
        Thread.sleep(100); // the server's close arrives while the connection is idle
      }
      assertEquals(3, connections.get());
      client.close();
    }
  }

  @Test
  void negativeOrSignedLengthsAreMalformed() throws Exception {
    Scripted server = scripted();
    PlainHttpGet client = server.client();
    server.respond("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n\r\n0\r\n\r\n");
    server.respond("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-7fffffff\r\n\r\n7fffffff\r\nx\r\n0\r\n\r\n");
    server.respond("HTTP/1.1 200 OK\r\nContent-Length: -1\r\nConnection: close\r\n\r\nabc");
    server.respond("HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\nabc");
    server.respond("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde");
    server.respond("HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok");
    for (int i = 0; i < 6; i++) {
      int poll = i;
      assertThrows(IOException.class, () -> client.get(null, 1 << 20, 2000), () -> "response " + poll);
    }
  }

  @Test
  void aConnectionWithBytesBeyondTheResponseIsNotReused() throws Exception {
    Scripted server = scripted();
    PlainHttpGet client = server.client();
    server.respond("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokJUNK");
    server.respond("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    assertEquals("ok", body(client.get(null, 1 << 20, 2000)));
    assertEquals("ok", body(client.get(null, 1 << 20, 2000)));
    assertEquals(2, server.connections.get());
  }

  @Test
  void transferEncodingOverridesContentLengthAndTheConnectionIsNotReused() throws Exception {
    Scripted server = scripted();
    PlainHttpGet client = server.client();
    server.respond("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n");
    server.respond("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\nuntil close");
    server.respond("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    assertEquals("ok", body(client.get(null, 1 << 20, 2000)));
    assertEquals("until close", body(client.get(null, 1 << 20, 2000)), "a body not ending in chunked runs to the close");
    assertEquals("ok", body(client.get(null, 1 << 20, 2000)));
    assertEquals(3, server.connections.get());
  }

  @Test
  void theCapHoldsWithAGivenBufferLargerThanTheCap() throws Exception {
    Scripted server = scripted();
    PlainHttpGet client = server.client();
    server.respond("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n0123456789ABCDEF");
    assertThrows(CappedBody.TooLargeException.class, () -> client.get(new byte[100], 10, 2000));
  }

  @Test
  void endlessHeadersFailOnTheirSizeNotOnTheDeadline() throws Exception {
    try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      Thread sender = new Thread(() -> {
        try (Socket s = server.accept()) {
          OutputStream out = s.getOutputStream();
          out.write("HTTP/1.1 200 OK\r\n".getBytes(StandardCharsets.ISO_8859_1));
          byte[] header = "X-Filler: 0123456789012345678901234567890123456789\r\n".getBytes(StandardCharsets.ISO_8859_1);
          while (true) {
            out.write(header);
          }
        } catch (IOException gone) {
          // the client gave up
        }
      });
      sender.setDaemon(true);
      sender.start();
      PlainHttpGet client = new PlainHttpGet("127.0.0.1", server.getLocalPort(), "/metrics", "text/plain");
      IOException e = assertThrows(IOException.class, () -> client.get(null, 1 << 20, 5_000));
      assertTrue(!(e instanceof HttpTimeoutException), e.toString());
      client.close();
    }
  }

  @Test
  void aSlowDripServerDoesNotExtendTheDeadline() throws Exception {
    try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      Thread sender = new Thread(() -> {
        try (Socket s = server.accept()) {
          OutputStream out = s.getOutputStream();
          for (byte b : "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1)) {
            out.write(b);
          }
          while (true) {
            out.write('x');
            out.flush();
            Thread.sleep(50);
          }
        } catch (IOException | InterruptedException gone) {
          // the client gave up
        }
      });
      sender.setDaemon(true);
      sender.start();
      PlainHttpGet client = new PlainHttpGet("127.0.0.1", server.getLocalPort(), "/metrics", "text/plain");
      long start = System.nanoTime();
      assertThrows(HttpTimeoutException.class, () -> client.get(null, 1 << 20, 500));
      long millis = (System.nanoTime() - start) / 1_000_000L;
      assertTrue(millis < 2_000, "took " + millis + " ms");
      client.close();
    }
  }

  @Test
  void refusedConnectionFails() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    PlainHttpGet client = new PlainHttpGet("127.0.0.1", port, "/metrics", "text/plain");
    assertThrows(IOException.class, () -> client.get(null, 1 << 20, 1000));
  }
}
