package dev.epp.metrics;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointDiscovery;
import dev.epp.api.EndpointStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
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
 * <p>Fields are separated by spaces or tabs; {@code #} starts a comment; blank lines are ignored; an IPv6 address is
 * written in brackets. A bad line is logged with the file name and line number, recorded in {@link #problems()} and
 * skipped; the other lines still apply. A repeated name is a bad line (the first one wins).
 *
 * <p>The file's modification time and size are polled (default every second) rather than watched with a
 * {@link java.nio.file.WatchService}, which misses editors' atomic renames on some platforms. On a change, listed
 * endpoints are upserted and endpoints no longer listed are removed. If the file cannot be read after start (e.g. it
 * is being replaced), the pool is left as it is until it can.
 *
 * <p><b>Threading:</b> thread-safe; the file is re-read on one daemon thread.
 */
public final class FileDiscovery implements EndpointDiscovery {

  private static final Logger log = LoggerFactory.getLogger(FileDiscovery.class);

  /** A bad line of the file. */
  public record Problem(Path file, int line, String message) {
    @Override
    public String toString() {
      return file + ":" + line + ": " + message;
    }
  }

  private final Path file;
  private final Duration pollInterval;
  private final Object lock = new Object();
  private ScheduledExecutorService poller;
  private EndpointStore store;
  private FileTime lastModified;
  private long lastSize = -1;
  private Set<String> listed = Set.of();
  private volatile List<Problem> problems = List.of();
  private boolean closed;

  /** Discovery from {@code file}, polled every second. */
  public FileDiscovery(Path file) {
    this(file, Duration.ofSeconds(1));
  }

  /** Discovery from {@code file}, polled every {@code pollInterval}. */
  public FileDiscovery(Path file, Duration pollInterval) {
    this.file = Objects.requireNonNull(file, "file");
    if (pollInterval.isNegative() || pollInterval.isZero()) {
      throw new IllegalArgumentException("pollInterval must be positive: " + pollInterval);
    }
    this.pollInterval = pollInterval;
  }

  /**
   * Parses endpoint-file text.
   *
   * @param problems receives the bad lines
   * @return the endpoints of the good lines, in file order
   */
  public static List<Endpoint> parse(Path file, String text, List<Problem> problems) {
    Map<String, Endpoint> endpoints = new LinkedHashMap<>();
    String[] lines = text.split("\r?\n", -1);
    for (int i = 0; i < lines.length; i++) {
      String line = lines[i];
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
    String[] fields = line.split("[ \\t]+");
    if (fields.length < 2) {
      throw new IllegalArgumentException("expected '<name> <ip>:<port> [label=value ...]', got '" + line + "'");
    }
    String hostPort = fields[1];
    String address;
    String port;
    if (hostPort.startsWith("[")) {
      int close = hostPort.indexOf("]:");
      if (close < 0) {
        throw new IllegalArgumentException("expected '[<ipv6>]:<port>', got '" + hostPort + "'");
      }
      address = hostPort.substring(1, close);
      port = hostPort.substring(close + 2);
    } else {
      int colon = hostPort.lastIndexOf(':');
      if (colon <= 0 || hostPort.indexOf(':') != colon) {
        throw new IllegalArgumentException("expected '<ip>:<port>' (IPv6 in brackets), got '" + hostPort + "'");
      }
      address = hostPort.substring(0, colon);
      port = hostPort.substring(colon + 1);
    }
    int portNumber;
    try {
      portNumber = Integer.parseInt(port);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("port '" + port + "' is not a number");
    }
    Map<String, String> labels = new LinkedHashMap<>();
    for (int i = 2; i < fields.length; i++) {
      int eq = fields[i].indexOf('=');
      if (eq <= 0) {
        throw new IllegalArgumentException("expected 'label=value', got '" + fields[i] + "'");
      }
      labels.put(fields[i].substring(0, eq), fields[i].substring(eq + 1));
    }
    return new Endpoint(fields[0], address, portNumber, labels);
  }

  @Override
  public void start(EndpointStore store) {
    Objects.requireNonNull(store, "store");
    synchronized (lock) {
      if (this.store != null || closed) {
        throw new IllegalStateException("already started or closed");
      }
      this.store = store;
      try {
        reload(true);
      } catch (IOException e) {
        this.store = null;
        throw new UncheckedIOException("cannot read endpoint file " + file + ": " + e, e);
      }
      poller = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "epp-file-discovery");
        t.setDaemon(true);
        return t;
      });
      long nanos = pollInterval.toNanos();
      poller.scheduleWithFixedDelay(this::poll, nanos, nanos, TimeUnit.NANOSECONDS);
    }
  }

  /** The bad lines found by the latest read of the file. */
  public List<Problem> problems() {
    return problems;
  }

  @Override
  public void close() {
    synchronized (lock) {
      closed = true;
      if (poller != null) {
        poller.shutdownNow();
      }
    }
  }

  private void poll() {
    synchronized (lock) {
      if (closed) {
        return;
      }
      try {
        reload(false);
      } catch (IOException | RuntimeException e) {
        log.warn("Cannot read endpoint file {}; keeping the current endpoints: {}", file, e.toString());
      }
    }
  }

  /** Re-reads the file if it changed (or {@code force}) and reconciles the store. Holds {@link #lock}. */
  private void reload(boolean force) throws IOException {
    BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
    if (!force && attributes.lastModifiedTime().equals(lastModified) && attributes.size() == lastSize) {
      return;
    }
    String text = Files.readString(file, StandardCharsets.UTF_8);
    lastModified = attributes.lastModifiedTime();
    lastSize = attributes.size();
    List<Problem> found = new ArrayList<>();
    List<Endpoint> endpoints = parse(file, text, found);
    problems = List.copyOf(found);
    for (Problem problem : found) {
      log.warn("Skipping bad line of endpoint file: {}", problem);
    }
    Set<String> names = new HashSet<>();
    for (Endpoint endpoint : endpoints) {
      names.add(endpoint.name());
      store.upsert(endpoint);
    }
    for (String name : listed) {
      if (!names.contains(name)) {
        store.remove(name);
      }
    }
    listed = names;
    log.debug("Endpoint file {}: {} endpoints, {} bad lines", file, endpoints.size(), found.size());
  }
}
