package dev.epp.metrics.scrape.internal;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The poll loop against scripted loopback servers: framing, keep-alive, caps, timeouts, cancel and batching. */
class HttpPollLoopTest {

  /** Answers each request it reads with the next scripted response; counts connections and requests. */
  private static final class Scripted implements AutoCloseable {
    final ServerSocket server;
    final BlockingQueue<byte[]> responses = new LinkedBlockingQueue<>();
    final AtomicInteger connections = new AtomicInteger();
    final List<String> requests = new CopyOnWriteArrayList<>();
    final List<Socket> sockets = new CopyOnWriteArrayList<>();

    Scripted() throws IOException {
      server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      daemon(() -> {
        try {
          while (true) {
            Socket s = server.accept();
            sockets.add(s);
            connections.incrementAndGet();
            daemon(() -> serve(s));
          }
        } catch (IOException closed) {
          // server closed
        }
      });
    }

    private void serve(Socket s) {
      try (s) {
        InputStream in = s.getInputStream();
        OutputStream out = s.getOutputStream();
        while (true) {
          String request = readRequest(in);
          if (request == null) {
            return;
          }
          requests.add(request);
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

    void respond(String... responses) {
      for (String response : responses) {
        this.responses.add(response.getBytes(StandardCharsets.ISO_8859_1));
      }
    }

    int port() {
      return server.getLocalPort();
    }

    @Override
    public void close() throws IOException {
      server.close();
      for (Socket s : sockets) {
        s.close();
      }
    }
  }

  /** The outcomes of one URL's polls, in order: a body as a string, or the exception. */
  private static class Outcomes implements HttpPollLoop.Listener {
    final BlockingQueue<Object> queue = new LinkedBlockingQueue<>();

    @Override
    public void page(byte[] page, int length) {
      queue.add(new String(page, 0, length, StandardCharsets.ISO_8859_1));
    }

    @Override
    public void failed(IOException e) {
      queue.add(e);
    }

    Object next() throws InterruptedException {
      Object outcome = queue.poll(10, TimeUnit.SECONDS);
      assertNotNull(outcome, "no poll ended within 10 s");
      return outcome;
    }

    String page() throws InterruptedException {
      Object outcome = next();
      if (outcome instanceof IOException e) {
        fail("expected a page, the poll failed", e);
      }
      return (String) outcome;
    }

    <T extends IOException> T failure(Class<T> type) throws InterruptedException {
      return assertInstanceOf(type, next());
    }
  }

  private final List<AutoCloseable> closeables = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (AutoCloseable c : closeables) {
      c.close();
    }
  }

  private Scripted scripted() throws IOException {
    Scripted s = new Scripted();
    closeables.add(s);
    return s;
  }

  private HttpPollLoop loop(long intervalMillis, long timeoutMillis, int maxBytes) {
    HttpPollLoop loop = new HttpPollLoop(HttpPollLoop.daemonThreads("test-poll"), Duration.ofMillis(intervalMillis),
        Duration.ofMillis(timeoutMillis), maxBytes);
    closeables.add(loop);
    return loop;
  }

  /** Polls {@code port} every 20 ms with a 2 s timeout and a 1 MiB cap. */
  private Outcomes poll(int port) {
    return poll(loop(20, 2000, 1 << 20), port);
  }

  private static Outcomes poll(HttpPollLoop loop, int port) {
    Outcomes outcomes = new Outcomes();
    loop.add("127.0.0.1", port, "/metrics", "text/plain", 0, outcomes);
    return outcomes;
  }

  private static void daemon(Runnable task) {
    Thread t = new Thread(task);
    t.setDaemon(true);
    t.start();
  }

  /** The request head up to its blank line, or null at the end of the stream. */
  private static String readRequest(InputStream in) throws IOException {
    ByteArrayOutputStream request = new ByteArrayOutputStream();
    int matched = 0;
    while (matched < 4) {
      int b = in.read();
      if (b < 0) {
        return null;
      }
      request.write(b);
      matched = (b == "\r\n\r\n".charAt(matched)) ? matched + 1 : (b == '\r' ? 1 : 0);
    }
    return request.toString(StandardCharsets.ISO_8859_1);
  }

  @Test
  void contentLengthBodiesOverOneKeptAliveConnection() throws Exception {
    Scripted server = scripted();
    server.respond("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\ncontent-length: 6\r\nX-Other: a:b\r\n\r\nworld!");
    Outcomes outcomes = poll(server.port());
    assertEquals("hello", outcomes.page());
    assertEquals("world!", outcomes.page());
    assertEquals(1, server.connections.get());
    String request = server.requests.get(0);
    assertTrue(request.startsWith("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:" + server.port() + "\r\n"), request);
    assertTrue(request.contains("\r\nAccept: text/plain\r\n"), request);
  }

  @Test
  void pagesAreAskedUncompressedAndACompressedOneFailsSayingSo() throws Exception {
    Scripted server = scripted();
    server.respond("HTTP/1.1 200 OK\r\nContent-Encoding: identity\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nContent-Encoding: GZIP\r\nContent-Length: 4\r\n\r\n\u001f\u008b\u0008\u0000",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nagain");
    Outcomes outcomes = poll(server.port());
    assertEquals("ok", outcomes.page());
    IOException compressed = outcomes.failure(IOException.class);
    assertTrue(compressed.getMessage().contains("Content-Encoding: gzip although asked for identity"),
        compressed.getMessage());
    assertEquals("again", outcomes.page());
    assertTrue(server.requests.get(0).contains("\r\nAccept-Encoding: identity\r\n"), server.requests.get(0));
  }

  /** Polls waiting for their responses hold no read buffer, however many there are. */
  @Test
  void pollsWaitingForAnAnswerHoldNoBuffer() throws Exception {
    Scripted server = scripted();
    HttpPollLoop loop = loop(60_000, 60_000, 1 << 20);
    for (int i = 0; i < 40; i++) {
      server.respond(""); // never answered
      poll(loop, server.port());
    }
    waitUntil(() -> server.requests.size() == 40);
    assertEquals(0, loop.bufferBytes());
  }

  /**
   * Forty responses arriving at once each need a buffer; once they are read, the loop keeps at most
   * {@link BufferPool#MAX_SPARE_BYTES} of spare buffers, not one per URL.
   */
  @Test
  void buffersKeptAfterABurstAreBounded() throws Exception {
    int polls = 40;
    byte[] body = new byte[50_000];
    java.util.Arrays.fill(body, (byte) '#');
    byte[] head = ("HTTP/1.1 200 OK\r\nContent-Length: " + body.length + "\r\n\r\n")
        .getBytes(StandardCharsets.ISO_8859_1);
    java.util.concurrent.CountDownLatch halfSent = new java.util.concurrent.CountDownLatch(polls);
    try (ServerSocket server = new ServerSocket(0, polls, InetAddress.getLoopbackAddress())) {
      daemon(() -> {
        try {
          for (int i = 0; i < polls; i++) {
            Socket s = server.accept();
            daemon(() -> {
              try (s) {
                readRequest(s.getInputStream());
                OutputStream out = s.getOutputStream();
                out.write(head);
                out.write(body, 0, body.length / 2);
                out.flush();
                halfSent.countDown();
                halfSent.await(); // every poll holds half a page before any finishes
                out.write(body, body.length / 2, body.length - body.length / 2);
                out.flush();
                s.getInputStream().read(); // until the client hangs up
              } catch (IOException | InterruptedException e) {
                // done
              }
            });
          }
        } catch (IOException closed) {
          // test over
        }
      });
      HttpPollLoop loop = loop(60_000, 60_000, 1 << 20);
      List<Outcomes> outcomes = new ArrayList<>();
      for (int i = 0; i < polls; i++) {
        outcomes.add(poll(loop, server.getLocalPort()));
      }
      for (Outcomes o : outcomes) {
        assertEquals(body.length, o.page().length());
      }
      long bytes = loop.bufferBytes();
      assertTrue(bytes <= BufferPool.MAX_SPARE_BYTES, bytes + " bytes of buffers kept for " + polls + " idle polls");
    }
  }

  @Test
  void chunkedBodiesWithExtensionsAndTrailersAndInterimResponses() throws Exception {
    Scripted server = scripted();
    server.respond("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        + "4;ext=1\r\nabcd\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    Outcomes outcomes = poll(server.port());
    assertEquals("abcd0123456789abcdef", outcomes.page());
    assertEquals("ok", outcomes.page());
    assertEquals(1, server.connections.get());
  }

  @Test
  void bodyUntilCloseAndConnectionCloseReconnect() throws Exception {
    Scripted server = scripted();
    server.respond("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end",
        "HTTP/1.0 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nxyz");
    Outcomes outcomes = poll(server.port());
    assertEquals("until the end", outcomes.page());
    assertEquals("abc", outcomes.page());
    assertEquals("xyz", outcomes.page());
    assertEquals(3, server.connections.get());
  }

  @Test
  void otherStatusesFailWithoutReadingTheBodyAndReconnect() throws Exception {
    Scripted server = scripted();
    server.respond("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    Outcomes outcomes = poll(server.port());
    assertEquals("HTTP status 404", outcomes.failure(IOException.class).getMessage());
    assertEquals("ok", outcomes.page());
    assertEquals(2, server.connections.get());
  }

  @Test
  void bodiesOverTheCapFail() throws Exception {
    Scripted server = scripted();
    server.respond("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n01234567890",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n01234567\r\n8\r\n01234567\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n0123456789A",
        "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n0123456789");
    Outcomes outcomes = poll(loop(20, 2000, 10), server.port());
    for (int i = 0; i < 3; i++) {
      outcomes.failure(CappedBody.TooLargeException.class);
    }
    assertEquals("0123456789", outcomes.page(), "exactly the cap until close is accepted");
  }

  @Test
  void malformedOrSignedLengthsAndShortBodiesFail() throws Exception {
    Scripted server = scripted();
    server.respond("SSH-2.0-OpenSSH\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nshort",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\nConnection: close\r\n\r\nabc",
        "HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\nabc",
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde",
        "HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    Outcomes outcomes = poll(server.port());
    for (int i = 0; i < 9; i++) {
      IOException e = outcomes.failure(IOException.class);
      assertTrue(!(e instanceof HttpTimeoutException), "response " + i + " failed on its form: " + e);
    }
    assertEquals("ok", outcomes.page(), "a new connection after each malformed response");
  }

  @Test
  void aConnectionWithBytesBeyondTheResponseIsNotReused() throws Exception {
    Scripted server = scripted();
    server.respond("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokJUNK", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    Outcomes outcomes = poll(server.port());
    assertEquals("ok", outcomes.page());
    assertEquals("ok", outcomes.page());
    assertEquals(2, server.connections.get());
  }

  @Test
  void transferEncodingOverridesContentLengthAndTheConnectionIsNotReused() throws Exception {
    Scripted server = scripted();
    server.respond("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\nuntil close",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    Outcomes outcomes = poll(server.port());
    assertEquals("ok", outcomes.page());
    assertEquals("until close", outcomes.page(), "a body not ending in chunked runs to the close");
    assertEquals("ok", outcomes.page());
    assertEquals(3, server.connections.get());
  }

  @Test
  void aHungServerTimesOutWithoutDelayingAnotherUrlOnTheSameLoop() throws Exception {
    Scripted hung = scripted();
    hung.responses.add(new byte[0]);
    Scripted healthy = scripted();
    for (int i = 0; i < 20; i++) {
      healthy.respond("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    }
    HttpPollLoop loop = loop(20, 500, 1 << 20);
    long start = System.nanoTime();
    Outcomes stuck = poll(loop, hung.port());
    Outcomes fine = poll(loop, healthy.port());
    for (int i = 0; i < 10; i++) {
      assertEquals("ok", fine.page());
    }
    assertTrue(stuck.queue.isEmpty() || System.nanoTime() - start >= 500_000_000L, "no outcome before the timeout");
    HttpTimeoutException timeout = stuck.failure(HttpTimeoutException.class);
    assertEquals("no complete response within 500 ms", timeout.getMessage());
    assertEquals(1, hung.requests.size(), "no second request while the first one waits");
  }

  /** A server that answers one request per connection and then closes it, as on an idle keep-alive timeout. */
  @Test
  void aConnectionTheServerClosedWhileIdleIsDroppedNotFailed() throws Exception {
    try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      AtomicInteger connections = new AtomicInteger();
      daemon(() -> {
        try {
          while (true) {
            try (Socket s = server.accept()) {
              connections.incrementAndGet();
              readRequest(s.getInputStream());
              s.getOutputStream().write(
                  "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".getBytes(StandardCharsets.ISO_8859_1));
            } // closed without Connection: close
          }
        } catch (IOException closed) {
          // server closed
        }
      });
      Outcomes outcomes = poll(loop(100, 2000, 1 << 20), server.getLocalPort());
      for (int i = 0; i < 3; i++) {
        assertEquals("ok", outcomes.page(), "poll " + i);
      }
      assertTrue(connections.get() >= 3);
    }
  }

  /**
   * A server that closes a kept-alive connection just as the next request arrives, without answering: the request
   * is sent once more on a new connection within the same poll.
   */
  @Test
  void aKeptAliveConnectionThatDiesUnansweredIsReplacedWithinThePoll() throws Exception {
    try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      AtomicInteger connections = new AtomicInteger();
      daemon(() -> {
        try {
          while (true) {
            try (Socket s = server.accept()) {
              connections.incrementAndGet();
              InputStream in = s.getInputStream();
              readRequest(in);
              s.getOutputStream().write(
                  "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".getBytes(StandardCharsets.ISO_8859_1));
              readRequest(in); // the second request on this connection is never answered
            }
          }
        } catch (IOException closed) {
          // server closed
        }
      });
      Outcomes outcomes = poll(loop(20, 2000, 1 << 20), server.getLocalPort());
      for (int i = 0; i < 4; i++) {
        assertEquals("ok", outcomes.page(), "poll " + i);
      }
      assertEquals(4, connections.get(), "one new connection per poll after the first");
    }
  }

  /**
   * A response that arrived in time while the loop was busy elsewhere (here in a listener that holds it past the
   * deadline) is read at the deadline, not failed as late.
   */
  @Test
  void aResponseThatArrivedWhileTheLoopWasBusyIsReadAtTheDeadline() throws Exception {
    try (ServerSocket first = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        ServerSocket second = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      CountDownLatch loopBusy = new CountDownLatch(1);
      String ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
      daemon(() -> answer(first, ok, null));
      daemon(() -> answer(second, ok, loopBusy));
      HttpPollLoop loop = loop(60_000, 300, 1 << 20);
      Outcomes busy = new Outcomes() {
        @Override
        public void page(byte[] page, int length) {
          super.page(page, length);
          loopBusy.countDown();
          try {
            Thread.sleep(1000); // past the other poll's deadline
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
      };
      loop.add("127.0.0.1", first.getLocalPort(), "/metrics", "text/plain", 0, busy);
      Outcomes late = poll(loop, second.getLocalPort());
      assertEquals("ok", busy.page());
      assertEquals("ok", late.page());
    }
  }

  /** Answers one request on {@code server} with {@code response}, once {@code before} (if any) has opened. */
  private static void answer(ServerSocket server, String response, CountDownLatch before) {
    try (Socket s = server.accept()) {
      readRequest(s.getInputStream());
      if (before != null) {
        before.await();
      }
      s.getOutputStream().write(response.getBytes(StandardCharsets.ISO_8859_1));
      s.getInputStream().read(); // until the client closes
    } catch (IOException | InterruptedException e) {
      // the test ended
    }
  }

  @Test
  void endlessHeadersFailOnTheirSizeNotOnTheDeadline() throws Exception {
    try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      daemon(() -> {
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
      Outcomes outcomes = poll(loop(20, 5_000, 1 << 20), server.getLocalPort());
      IOException e = outcomes.failure(IOException.class);
      assertTrue(e.getMessage().startsWith("header section longer than"), e.toString());
    }
  }

  /** A byte every 50 ms would keep a per-read timeout of 500 ms from ever firing; the deadline cuts the body off. */
  @Test
  void aSlowDripServerDoesNotExtendTheDeadline() throws Exception {
    int bodyBytes = 100_000;
    AtomicInteger dripped = new AtomicInteger();
    try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      daemon(() -> {
        try (Socket s = server.accept()) {
          OutputStream out = s.getOutputStream();
          for (byte b : ("HTTP/1.1 200 OK\r\nContent-Length: " + bodyBytes + "\r\n\r\n")
              .getBytes(StandardCharsets.ISO_8859_1)) {
            out.write(b);
          }
          while (dripped.get() < bodyBytes) {
            out.write('x');
            out.flush();
            dripped.incrementAndGet();
            Thread.sleep(50);
          }
        } catch (IOException | InterruptedException gone) {
          // the client gave up
        }
      });
      Outcomes outcomes = poll(loop(20, 500, 1 << 20), server.getLocalPort());
      outcomes.failure(HttpTimeoutException.class);
      assertTrue(dripped.get() < bodyBytes, "the poll failed before the body was complete: " + dripped + " bytes");
    }
  }

  @Test
  void refusedConnectionsAndUnknownHostsFail() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    HttpPollLoop loop = loop(20, 1000, 1 << 20);
    Outcomes refused = poll(loop, port);
    IOException e = refused.failure(IOException.class);
    assertTrue(!(e instanceof HttpTimeoutException), e.toString());
    Outcomes unknown = new Outcomes();
    loop.add("no-such-host.invalid", 80, "/metrics", "text/plain", 0, unknown);
    assertInstanceOf(java.net.UnknownHostException.class, unknown.next());
  }

  @Test
  void cancelClosesTheConnectionAndEndsPolling() throws Exception {
    Scripted server = scripted();
    server.respond("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    server.responses.add(new byte[0]); // the second poll hangs
    HttpPollLoop loop = loop(20, 30_000, 1 << 20);
    Outcomes outcomes = new Outcomes();
    HttpPollLoop.Poll poll = loop.add("127.0.0.1", server.port(), "/metrics", "text/plain", 0, outcomes);
    assertEquals("ok", outcomes.page());
    waitUntil(() -> server.requests.size() == 2);
    assertEquals(1, loop.size());
    poll.cancel();
    poll.cancel();
    assertEquals(0, loop.size(), "cancel is idempotent");
    Socket accepted = server.sockets.get(0);
    waitUntil(() -> {
      try {
        accepted.setSoTimeout(100);
        return accepted.getInputStream().read() < 0; // the client closed its end
      } catch (IOException e) {
        return false;
      }
    });
    Thread.sleep(100);
    assertTrue(outcomes.queue.isEmpty(), "no outcome after cancel: " + outcomes.queue);
    assertEquals(2, server.requests.size());
  }

  /**
   * With a 10 min interval, a tick 50 s after the first is within a tenth of it and polled with the first; one 5 min
   * after is not. The test ends long before either tick would come due on its own.
   */
  @Test
  void ticksFallingWithinATenthOfTheIntervalArePolledTogether() throws Exception {
    HttpPollLoop loop = loop(600_000, 2000, 1 << 20);
    long[] delaysMillis = {0, 50_000, 300_000};
    List<Scripted> servers = new ArrayList<>();
    List<Outcomes> outcomes = new ArrayList<>();
    for (int i = 0; i < delaysMillis.length; i++) {
      Scripted server = scripted();
      server.respond("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      servers.add(server);
    }
    for (int i = 0; i < delaysMillis.length; i++) {
      Outcomes o = new Outcomes();
      loop.add("127.0.0.1", servers.get(i).port(), "/metrics", "text/plain", delaysMillis[i] * 1_000_000L, o);
      outcomes.add(o);
    }
    assertEquals("ok", outcomes.get(0).page());
    assertEquals("ok", outcomes.get(1).page(), "the 50 s tick was polled with the first");
    assertEquals(List.of(), servers.get(2).requests, "the 5 min tick, more than a tenth of the interval later, waits");
    assertTrue(outcomes.get(2).queue.isEmpty(), outcomes.get(2).queue.toString());
  }

  /** A server answering every request on every connection with a short page, kept alive. */
  private Scripted alwaysOk() throws IOException {
    Scripted server = scripted();
    for (int i = 0; i < 10_000; i++) {
      server.respond("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    }
    return server;
  }

  @Test
  void anErrorInOneListenerFailsOnlyThatPoll() throws Exception {
    Scripted server = alwaysOk();
    HttpPollLoop loop = loop(20, 2000, 1 << 20);
    Outcomes healthy = poll(loop, server.port());
    AtomicInteger calls = new AtomicInteger();
    loop.add("127.0.0.1", server.port(), "/metrics", "text/plain", 0, new HttpPollLoop.Listener() {
      @Override
      public void page(byte[] page, int length) {
        if (calls.incrementAndGet() == 1) {
          throw new StackOverflowError("from the page parser");
        }
      }

      @Override
      public void failed(IOException e) {}
    });
    waitUntil(() -> calls.get() >= 3);
    healthy.queue.clear();
    for (int i = 0; i < 5; i++) {
      assertEquals("ok", healthy.page(), "the other URL is still polled");
    }
  }

  @Test
  void aStrayInterruptDoesNotMakeTheLoopSpin() throws Exception {
    Scripted server = alwaysOk();
    HttpPollLoop loop = new HttpPollLoop(HttpPollLoop.daemonThreads("interrupted-poll"), Duration.ofSeconds(1),
        Duration.ofSeconds(1), 1 << 20);
    closeables.add(loop);
    AtomicInteger pages = new AtomicInteger();
    loop.add("127.0.0.1", server.port(), "/metrics", "text/plain", 0, new HttpPollLoop.Listener() {
      @Override
      public void page(byte[] page, int length) {
        pages.incrementAndGet();
        Thread.currentThread().interrupt(); // as code restoring an InterruptedException would
      }

      @Override
      public void failed(IOException e) {}
    });
    waitUntil(() -> pages.get() == 1);
    Thread thread = Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.getName().equals("interrupted-poll-1")).findFirst().orElseThrow();
    java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory.getThreadMXBean();
    long cpu = threads.getThreadCpuTime(thread.getId());
    Thread.sleep(500);
    long cpuMillis = (threads.getThreadCpuTime(thread.getId()) - cpu) / 1_000_000;
    assertTrue(cpuMillis < 100, "the idle loop used " + cpuMillis + " ms of CPU in 500 ms");
  }

  /** A server streaming interim responses without end: the poll times out on time and others keep their ticks. */
  @Test
  void aFloodingServerIsCutOffAtItsDeadlineWithoutStarvingOthers() throws Exception {
    Scripted healthyServer = alwaysOk();
    java.util.concurrent.atomic.AtomicLong floodedBytes = new java.util.concurrent.atomic.AtomicLong();
    java.util.concurrent.CompletableFuture<Void> floodClosed = new java.util.concurrent.CompletableFuture<>();
    try (ServerSocket flood = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      daemon(() -> {
        try (Socket s = flood.accept()) {
          readRequest(s.getInputStream());
          byte[] interim = "HTTP/1.1 100 Continue\r\n\r\n".repeat(4000).getBytes(StandardCharsets.ISO_8859_1);
          OutputStream out = s.getOutputStream();
          while (true) {
            out.write(interim);
            floodedBytes.addAndGet(interim.length);
          }
        } catch (IOException gone) {
          floodClosed.complete(null); // the client gave up
        }
      });
      HttpPollLoop loop = loop(20, 2_000, 1 << 20);
      Outcomes healthy = poll(loop, healthyServer.port());
      assertEquals("ok", healthy.page());
      Outcomes flooded = poll(loop, flood.getLocalPort());
      await().atMost(Duration.ofSeconds(30)).until(() -> floodedBytes.get() > 0);
      healthy.queue.clear();
      for (int i = 0; i < 5; i++) {
        assertEquals("ok", healthy.page(), "the other URL keeps being polled during the flood");
      }
      assertTrue(flooded.queue.isEmpty(), "the flood was still under way: " + flooded.queue);
      flooded.failure(HttpTimeoutException.class);
      await().atMost(Duration.ofSeconds(30)).until(floodClosed::isDone);
    }
  }

  private static void waitUntil(java.util.function.BooleanSupplier condition) {
    await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(10)).until(condition::getAsBoolean);
  }
}
