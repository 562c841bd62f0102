package dev.epp.discovery;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointDiscovery;
import dev.epp.api.EndpointStore;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Discovery from a text file with one endpoint per line, re-read when it changes:
 *
 * <pre>
 * # name          address:port        labels
 * vllm-a-rank-0   10.0.0.1:8000       inference.networking.k8s.io/engine-type=vllm
 * sglang-b-rank-0 [fd00::2]:30000     inference.networking.k8s.io/engine-type=sglang zone=a
 * </pre>
 *
 * <p>The file is UTF-8 text of at most {@value #MAX_FILE_BYTES} bytes. Fields are separated by spaces or tabs;
 * {@code #} starts a comment; blank lines are ignored. The address is an IP literal ({@link IpPort}: IPv6 in
 * brackets; host names are not accepted, as the gateway connects to the address as given). A bad line (a malformed
 * or invalid field, a control character, a name listed twice: the first one wins) is logged with the file name and
 * line number, recorded in {@link #problems()} and skipped; the other lines still apply.
 *
 * <p>{@link #start} applies the file as it finds it. After that, the file is read every poll interval (default one
 * second) rather than watched with a {@link java.nio.file.WatchService}, which misses editors' atomic renames on some
 * platforms. A change is applied once two consecutive reads find the same new content, so a file being rewritten in
 * place is not applied half written (unless its writer pauses for longer than the interval: write the file whole and
 * rename it over the old one). A load is validated whole before anything is applied: listed endpoints are upserted,
 * then endpoints no longer listed are removed (the pool logs each change). The current endpoints are kept, and the
 * reason logged once until it clears, while the file cannot be read (missing, unreadable, too large, not
 * UTF-8), is empty (zero bytes, as while being rewritten in place) or has bad lines and no good one. To remove every
 * endpoint, leave a comment line in the file.
 *
 * <p><b>Threading:</b> thread-safe; the file is re-read on one daemon thread.
 */
public final class FileDiscovery implements EndpointDiscovery {

  private static final Logger log = LoggerFactory.getLogger(FileDiscovery.class);
  /** The largest endpoint file read. */
  public static final int MAX_FILE_BYTES = 16 << 20;

  /** A bad line of the file. */
  public record Problem(Path file, int line, String message) {
    @Override
    public String toString() {
      return file + ":" + line + ": " + message;
    }
  }

  private final Path file;
  private final Duration pollInterval;
  private final ScheduledExecutorService scheduler; // null: a thread of its own, made at start
  private final Object lock = new Object();
  // Guarded by lock:
  private ScheduledExecutorService ownedPoller;
  private ScheduledFuture<?> polling;
  private EndpointStore store;
  private String loaded; // the content last loaded (applied or, if kept out, judged)
  private String pending; // new content seen by the latest read, applied if the next read finds it again
  private String trouble; // why the file is not in use, as last logged; null while it is
  private String loadedTrouble; // why the content last loaded was kept out, or null if it was applied
  private Map<String, Endpoint> listed = Map.of(); // the endpoints this discovery put in the store
  private volatile List<Problem> problems = List.of();
  private boolean closed;
  private final AtomicLong polls = new AtomicLong();

  /** Discovery from {@code file}, polled every second. */
  public FileDiscovery(Path file) {
    this(file, Duration.ofSeconds(1));
  }

  /** Discovery from {@code file}, polled every {@code pollInterval} on a daemon thread of its own. */
  public FileDiscovery(Path file, Duration pollInterval) {
    this(file, pollInterval, null);
  }

  /**
   * Discovery from {@code file}, polled every {@code pollInterval} on {@code scheduler}, which {@link #close()} does
   * not shut down (it cancels the polling).
   */
  public FileDiscovery(Path file, Duration pollInterval, ScheduledExecutorService scheduler) {
    this.file = Objects.requireNonNull(file, "file");
    if (pollInterval.isNegative() || pollInterval.isZero()) {
      throw new IllegalArgumentException("pollInterval must be positive: " + pollInterval);
    }
    this.pollInterval = pollInterval;
    this.scheduler = scheduler;
  }

  /**
   * Parses endpoint-file text. Every line is validated; the result holds only good lines.
   *
   * @param problems receives the bad lines
   * @return the endpoints of the good lines, in file order
   */
  public static List<Endpoint> parse(Path file, String text, List<Problem> problems) {
    Map<String, Endpoint> endpoints = new LinkedHashMap<>();
    String[] lines = text.split("\r?\n", -1);
    for (int i = 0; i < lines.length; i++) {
      String line = i == 0 && lines[i].startsWith("\uFEFF") ? lines[i].substring(1) : lines[i];
      int hash = line.indexOf('#');
      if (hash >= 0) {
        line = line.substring(0, hash);
      }
      line = line.strip();
      if (line.isEmpty()) {
        continue;
      }
      try {
        Endpoint endpoint = parseLine(line);
        if (endpoints.putIfAbsent(endpoint.name(), endpoint) != null) {
          throw new IllegalArgumentException("endpoint '" + endpoint.name() + "' is listed twice");
        }
      } catch (IllegalArgumentException e) {
        problems.add(new Problem(file, i + 1, e.getMessage()));
      }
    }
    return List.copyOf(endpoints.values());
  }

  private static Endpoint parseLine(String line) {
    for (int i = 0; i < line.length(); i++) {
      char c = line.charAt(i);
      if (c != '\t' && Character.isISOControl(c)) {
        throw new IllegalArgumentException(String.format("control character U+%04X in the line", (int) c));
      }
    }
    String[] fields = line.split("[ \\t]+");
    if (fields.length < 2) {
      throw new IllegalArgumentException("expected '<name> <ip>:<port> [label=value ...]', got '" + line + "'");
    }
    IpPort address;
    try {
      address = IpPort.parse(fields[1]);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("invalid address '" + fields[1] + "': " + e.getMessage());
    }
    Map<String, String> labels = new LinkedHashMap<>();
    for (int i = 2; i < fields.length; i++) {
      int eq = fields[i].indexOf('=');
      if (eq <= 0) {
        throw new IllegalArgumentException("expected 'label=value', got '" + fields[i] + "'");
      }
      if (labels.put(fields[i].substring(0, eq), fields[i].substring(eq + 1)) != null) {
        throw new IllegalArgumentException("label '" + fields[i].substring(0, eq) + "' is given twice");
      }
    }
    return new Endpoint(fields[0], address.ip(), address.port(), labels);
  }

  @Override
  public void start(EndpointStore store) {
    Objects.requireNonNull(store, "store");
    synchronized (lock) {
      if (this.store != null || closed) {
        throw new IllegalStateException("already started or closed");
      }
      String text;
      try {
        text = read();
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read endpoint file " + file + ": " + describe(e), e);
      }
      this.store = store;
      load(text);
      ScheduledExecutorService poller = scheduler;
      if (poller == null) {
        poller = ownedPoller = Executors.newSingleThreadScheduledExecutor(r -> {
          Thread t = new Thread(r, "epp-file-discovery");
          t.setDaemon(true);
          return t;
        });
      }
      long nanos = pollInterval.toNanos();
      polling = poller.scheduleWithFixedDelay(this::poll, nanos, nanos, TimeUnit.NANOSECONDS);
    }
  }

  /** The bad lines of the content last loaded. */
  public List<Problem> problems() {
    return problems;
  }

  @Override
  public void close() {
    synchronized (lock) {
      closed = true;
      if (polling != null) {
        polling.cancel(false);
      }
      if (ownedPoller != null) {
        ownedPoller.shutdownNow();
      }
    }
  }

  private void poll() {
    synchronized (lock) {
      if (closed) {
        return;
      }
      try {
        String text;
        try {
          text = read();
        } catch (IOException e) {
          pending = null;
          troubled("cannot be read: " + describe(e));
          return;
        }
        if (text.equals(loaded)) {
          pending = null;
          troubled(loadedTrouble);
        } else if (text.isEmpty()) {
          pending = null;
          troubled("is empty (being rewritten?); leave a comment line in it to remove every endpoint");
        } else if (!text.equals(pending)) {
          pending = text; // applied if the next read finds the same: the writer may not have finished
        } else {
          pending = null;
          load(text);
        }
      } catch (RuntimeException e) { // a bug: keep polling
        log.error("Loading endpoint file {} failed", file, e);
      } finally {
        polls.incrementAndGet();
      }
    }
  }

  /** How many polls after start have read (or tried to read) the file and acted on it. For tests. */
  long polls() {
    return polls.get();
  }

  /** Logs, once per change, why the file is not in use ({@code reason}), or that it is again (null). */
  private void troubled(String reason) {
    if (Objects.equals(reason, trouble)) {
      return;
    }
    if (reason != null) {
      log.warn("Endpoint file {} {}; keeping the current {} endpoints", file, reason, listed.size());
    } else {
      log.info("Endpoint file {} is in use again: {} endpoints", file, listed.size());
    }
    trouble = reason;
  }

  /** Validates {@code text} whole, then reconciles the store with its endpoints. Holds {@link #lock}. */
  private void load(String text) {
    loaded = text;
    List<Problem> found = new ArrayList<>();
    List<Endpoint> endpoints = parse(file, text, found);
    problems = List.copyOf(found);
    for (Problem problem : found) {
      log.warn("Skipping bad line of endpoint file: {}", problem);
    }
    if (endpoints.isEmpty() && !found.isEmpty() && !listed.isEmpty()) {
      loadedTrouble = "has no good line";
      troubled(loadedTrouble);
      return;
    }
    Map<String, Endpoint> next = new LinkedHashMap<>();
    for (Endpoint endpoint : endpoints) {
      next.put(endpoint.name(), endpoint);
      Endpoint old = listed.get(endpoint.name());
      if (endpoint.equals(old)) {
        continue;
      }
      try {
        store.upsert(endpoint);
      } catch (RuntimeException e) {
        log.error("Adding endpoint {} to the pool failed", endpoint.name(), e);
      }
    }
    for (Endpoint old : listed.values()) {
      if (!next.containsKey(old.name())) {
        try {
          store.remove(old.name());
        } catch (RuntimeException e) {
          log.error("Removing endpoint {} from the pool failed", old.name(), e);
        }
      }
    }
    listed = next;
    loadedTrouble = null;
    troubled(null);
    log.debug("Endpoint file {}: {} endpoints, {} bad lines", file, endpoints.size(), found.size());
  }

  /** The file's text; fails if it is not a regular file, is too large or is not UTF-8. */
  private String read() throws IOException {
    if (!Files.isRegularFile(file)) {
      throw Files.exists(file) ? new IOException("not a regular file") : new NoSuchFileException(file.toString());
    }
    byte[] bytes;
    try (InputStream in = Files.newInputStream(file)) {
      bytes = in.readNBytes(MAX_FILE_BYTES + 1);
    }
    if (bytes.length > MAX_FILE_BYTES) {
      throw new IOException("larger than " + MAX_FILE_BYTES + " bytes");
    }
    try {
      return StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString();
    } catch (CharacterCodingException e) {
      throw new IOException("not UTF-8 text");
    }
  }

  private static String describe(IOException e) {
    return e instanceof NoSuchFileException ? "no such file" : e.getMessage() != null ? e.getMessage() : e.toString();
  }
}
