package dev.epp.redis;

import dev.epp.api.MetricsRecorder;
import dev.epp.api.MetricsRecorder.PrefixIndexSync;
import dev.epp.api.Parameters;
import dev.epp.api.Plugin;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.TypedName;
import dev.epp.scheduler.plugins.prefix.ApproxPrefixCacheProducer;
import java.net.URI;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.RedisProtocol;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.exceptions.JedisException;
import redis.clients.jedis.params.XAddParams;
import redis.clients.jedis.params.XReadParams;
import redis.clients.jedis.resps.StreamEntry;

/**
 * Shares an {@code approx-prefix-cache-producer}'s index with the other EPP replicas through a Redis stream: the
 * {@value #TYPE} plugin.
 *
 * <p>Matching stays local: the request path never waits on Redis. Each insert the producer makes is queued (a full
 * queue drops it and counts it) and one writer thread appends the queue to the stream in pipelined batches
 * ({@code XADD key MAXLEN ~ maxLen * ...}). One reader thread follows the stream ({@code XREAD BLOCK}) from its
 * oldest retained entry, so a replica started later warms up from the recent history, and applies the entries of
 * the other replicas (each replica tags its entries with a random id) with
 * {@link ApproxPrefixCacheProducer#applyRemoteInsert}. Removing an endpoint stays local. When Redis is unreachable
 * (or stops answering for {@value #TIMEOUT_MILLIS} ms beyond a blocking read's {@value #BLOCK_MILLIS} ms)
 * the writer drops and counts, both threads retry with a backoff capped at {@value #MAX_BACKOFF_MILLIS} ms, one WARN
 * is logged per outage and one INFO on recovery; the reader then continues after the last entry it applied. The
 * counts are also {@linkplain MetricsRecorder#recordPrefixIndexSync recorded}.
 *
 * <p>Parameters:
 *
 * <ul>
 *   <li>{@code address} (required): {@code redis://host[:port]}, port 6379 by default.
 *   <li>{@code streamKey} (default {@value #DEFAULT_STREAM_KEY}): the stream; one per pool sharing a Redis.
 *   <li>{@code maxLen} (default {@value #DEFAULT_MAX_LEN}): entries the stream keeps (approximately), so the history
 *       a new replica reads; above 0.
 *   <li>{@code producerName} (default {@value ApproxPrefixCacheProducer#TYPE}): the producer whose index is shared,
 *       declared under {@code plugins}.
 *   <li>{@code queueSize} (default {@value #DEFAULT_QUEUE_SIZE}): inserts waiting for the writer; above 0.
 * </ul>
 *
 * <p><b>Threading:</b> thread-safe; owns two daemon threads and their connections until {@link #close}.
 */
public final class RedisPrefixIndexSync implements Plugin, AutoCloseable {

  /** The plugin type. */
  public static final String TYPE = "redis-prefix-index-sync";

  static final String DEFAULT_STREAM_KEY = "epp:prefix-index";
  static final long DEFAULT_MAX_LEN = 10_000;
  static final int DEFAULT_QUEUE_SIZE = 4096;
  static final long MAX_BACKOFF_MILLIS = 5_000;
  private static final long MIN_BACKOFF_MILLIS = 100;
  private static final int BATCH = 256;
  static final int BLOCK_MILLIS = 1_000;
  static final int TIMEOUT_MILLIS = 2_000;
  private static final String REPLICA = "r";
  private static final String ENDPOINT = "e";
  private static final String CAPACITY = "c";
  private static final String HASHES = "h";
  private static final Logger log = LoggerFactory.getLogger(RedisPrefixIndexSync.class);

  private final TypedName typedName;
  private final ApproxPrefixCacheProducer producer;
  private final MetricsRecorder metrics;
  private final HostAndPort address;
  private final String streamKey;
  private final long maxLen;
  private final String replicaId = UUID.randomUUID().toString();
  private final BlockingQueue<Insert> queue;
  private final ApproxPrefixCacheProducer.InsertListener listener = this::inserted;
  private final LongAdder published = new LongAdder();
  private final LongAdder applied = new LongAdder();
  private final LongAdder dropped = new LongAdder();
  private final AtomicBoolean down = new AtomicBoolean();
  private final Thread writer;
  private final Thread reader;
  private volatile boolean closed;
  private volatile Jedis readerConnection;

  /**
   * Starts sharing {@code producer}'s inserts through the stream {@code streamKey} at {@code address}, counting them
   * in {@code metrics} too.
   *
   * @param maxLen entries the stream keeps, approximately; at least 1
   * @param queueSize inserts waiting for the writer; at least 1
   */
  RedisPrefixIndexSync(String name, ApproxPrefixCacheProducer producer, MetricsRecorder metrics, HostAndPort address,
      String streamKey, long maxLen, int queueSize) {
    this.typedName = new TypedName(TYPE, name);
    this.producer = producer;
    this.metrics = metrics;
    this.address = address;
    this.streamKey = streamKey;
    this.maxLen = maxLen;
    this.queue = new ArrayBlockingQueue<>(queueSize);
    this.writer = daemon("epp-redis-writer-" + name, this::write);
    this.reader = daemon("epp-redis-reader-" + name, this::read);
    producer.addInsertListener(listener);
    writer.start();
    reader.start();
  }

  private static Thread daemon(String name, Runnable task) {
    Thread thread = new Thread(task, name);
    thread.setDaemon(true);
    return thread;
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  /** Local inserts appended to the stream. */
  public long published() {
    return published.sum();
  }

  /** Other replicas' inserts applied to the local index. */
  public long applied() {
    return applied.sum();
  }

  /** Local inserts dropped: the queue was full, or Redis failed to take them. */
  public long dropped() {
    return dropped.sum();
  }

  private void inserted(String endpoint, int capacity, long[] hashes) {
    if (closed || !queue.offer(new Insert(endpoint, capacity, hashes.clone()))) {
      drop(1);
    }
  }

  private void write() {
    List<Insert> batch = new ArrayList<>(BATCH);
    XAddParams params = XAddParams.xAddParams().maxLen(maxLen).approximateTrimming();
    Jedis jedis = null;
    long backoff = MIN_BACKOFF_MILLIS;
    try {
      while (!closed) {
        Insert first = queue.poll(BLOCK_MILLIS, TimeUnit.MILLISECONDS);
        if (first == null) {
          continue;
        }
        batch.add(first);
        queue.drainTo(batch, BATCH - 1);
        try {
          if (jedis == null) {
            jedis = connect();
          }
          Pipeline pipeline = jedis.pipelined();
          for (Insert insert : batch) {
            pipeline.xadd(streamKey, params, encode(insert));
          }
          pipeline.sync();
          published.add(batch.size());
          metrics.recordPrefixIndexSync(typedName, PrefixIndexSync.PUBLISHED, batch.size());
          recovered();
          backoff = MIN_BACKOFF_MILLIS;
        } catch (JedisException e) {
          drop(batch.size());
          jedis = disconnect(jedis);
          failed(e);
          Thread.sleep(backoff);
          backoff = Math.min(MAX_BACKOFF_MILLIS, backoff * 2);
        }
        batch.clear();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      disconnect(jedis);
      drop(batch.size() + queue.size());
      queue.clear();
    }
  }

  private void drop(int entries) {
    if (entries > 0) {
      dropped.add(entries);
      metrics.recordPrefixIndexSync(typedName, PrefixIndexSync.DROPPED, entries);
    }
  }

  private void read() {
    StreamEntryID last = new StreamEntryID();
    XReadParams params = XReadParams.xReadParams().block(BLOCK_MILLIS).count(BATCH);
    long backoff = MIN_BACKOFF_MILLIS;
    try {
      while (!closed) {
        try {
          if (readerConnection == null) {
            readerConnection = connect();
          }
          List<Map.Entry<String, List<StreamEntry>>> streams = readerConnection.xread(params, Map.of(streamKey, last));
          recovered();
          backoff = MIN_BACKOFF_MILLIS;
          if (streams == null) {
            continue;
          }
          for (Map.Entry<String, List<StreamEntry>> stream : streams) {
            for (StreamEntry entry : stream.getValue()) {
              last = entry.getID();
              apply(entry.getFields());
            }
          }
        } catch (JedisException e) {
          readerConnection = disconnect(readerConnection);
          if (closed) {
            return;
          }
          failed(e);
          Thread.sleep(backoff);
          backoff = Math.min(MAX_BACKOFF_MILLIS, backoff * 2);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      readerConnection = disconnect(readerConnection);
    }
  }

  private Jedis connect() {
    Jedis jedis = new Jedis(address, DefaultJedisClientConfig.builder()
        .connectionTimeoutMillis(TIMEOUT_MILLIS).socketTimeoutMillis(TIMEOUT_MILLIS)
        .blockingSocketTimeoutMillis(BLOCK_MILLIS + TIMEOUT_MILLIS).protocol(RedisProtocol.RESP2).build());
    jedis.connect();
    return jedis;
  }

  /** Closes {@code jedis} if not {@code null}, ignoring failures; returns {@code null}. */
  private static Jedis disconnect(Jedis jedis) {
    if (jedis != null) {
      try {
        jedis.close();
      } catch (RuntimeException e) {
        log.debug("Closing a Redis connection failed", e);
      }
    }
    return null;
  }

  private void failed(JedisException e) {
    if (!closed && down.compareAndSet(false, true)) {
      log.warn("Redis {} unavailable for prefix index stream '{}' ({}); the index is not shared until it is back, "
          + "retrying", address, streamKey, e.toString());
    }
  }

  private void recovered() {
    if (down.compareAndSet(true, false)) {
      log.info("Redis {} is back; sharing prefix index stream '{}' again", address, streamKey);
    }
  }

  private Map<String, String> encode(Insert insert) {
    ByteBuffer bytes = ByteBuffer.allocate(insert.hashes.length * Long.BYTES);
    for (long hash : insert.hashes) {
      bytes.putLong(hash);
    }
    return Map.of(REPLICA, replicaId, ENDPOINT, insert.endpoint, CAPACITY, Integer.toString(insert.capacity),
        HASHES, Base64.getEncoder().encodeToString(bytes.array()));
  }

  /** Applies another replica's entry; skips this replica's own and malformed ones. */
  private void apply(Map<String, String> fields) {
    if (replicaId.equals(fields.get(REPLICA))) {
      return;
    }
    String endpoint = fields.get(ENDPOINT);
    String capacity = fields.get(CAPACITY);
    String hashes = fields.get(HASHES);
    try {
      ByteBuffer bytes = ByteBuffer.wrap(Base64.getDecoder().decode(hashes == null ? "" : hashes));
      if (endpoint == null || capacity == null || bytes.remaining() % Long.BYTES != 0) {
        throw new IllegalArgumentException("missing field or partial hash");
      }
      long[] decoded = new long[bytes.remaining() / Long.BYTES];
      bytes.asLongBuffer().get(decoded);
      producer.applyRemoteInsert(endpoint, Integer.parseInt(capacity), decoded);
      applied.increment();
      metrics.recordPrefixIndexSync(typedName, PrefixIndexSync.APPLIED, 1);
    } catch (IllegalArgumentException e) {
      log.debug("Skipping a malformed entry of prefix index stream '{}': {}", streamKey, e.getMessage());
    }
  }

  /**
   * Stops publishing and reading, closes the connections and waits for both threads to end (unless interrupted,
   * which is then kept set). Idempotent.
   */
  @Override
  public void close() {
    closed = true;
    producer.removeInsertListener(listener);
    Jedis connection = readerConnection;
    if (connection != null) {
      connection.disconnect();
    }
    writer.interrupt();
    reader.interrupt();
    try {
      writer.join();
      reader.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** A local insert waiting for the writer. */
  private record Insert(String endpoint, int capacity, long[] hashes) {}

  /** Creates {@link RedisPrefixIndexSync} plugins. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public RedisPrefixIndexSync create(PluginSpec spec, PluginHandle handle) {
      Parameters parameters = spec.parameters();
      HostAndPort address = address(parameters);
      String streamKey = parameters.getString("streamKey", DEFAULT_STREAM_KEY);
      if (streamKey.isBlank()) {
        throw parameters.invalid("streamKey", "must not be blank");
      }
      long maxLen = parameters.getLong("maxLen", DEFAULT_MAX_LEN);
      if (maxLen < 1) {
        throw parameters.invalid("maxLen", "must be at least 1, got " + maxLen);
      }
      int queueSize = parameters.getInt("queueSize", DEFAULT_QUEUE_SIZE);
      if (queueSize < 1) {
        throw parameters.invalid("queueSize", "must be at least 1, got " + queueSize);
      }
      String producerName = parameters.getString("producerName", ApproxPrefixCacheProducer.TYPE);
      ApproxPrefixCacheProducer producer = handle.plugin(producerName, ApproxPrefixCacheProducer.class)
          .orElseThrow(() -> parameters.invalid("producerName", "names no " + ApproxPrefixCacheProducer.TYPE
              + " plugin '" + producerName + "' under plugins; declare the producer whose index is shared there"));
      return new RedisPrefixIndexSync(spec.name(), producer, handle.metrics(), address, streamKey, maxLen, queueSize);
    }

    private static HostAndPort address(Parameters parameters) {
      String raw = parameters.getString("address", null);
      if (raw == null || raw.isBlank()) {
        throw parameters.invalid("address", "is required: redis://host[:port]");
      }
      URI uri;
      try {
        uri = new URI(raw);
      } catch (java.net.URISyntaxException e) {
        throw parameters.invalid("address", "is not a URI: " + raw);
      }
      if (!"redis".equals(uri.getScheme()) || uri.getHost() == null || uri.getRawUserInfo() != null
          || !(uri.getRawPath() == null || uri.getRawPath().isEmpty()) || uri.getRawQuery() != null
          || uri.getRawFragment() != null) {
        throw parameters.invalid("address", "must be redis://host[:port] (no credentials, path or query), got "
            + raw);
      }
      return new HostAndPort(uri.getHost(), uri.getPort() == -1 ? 6379 : uri.getPort());
    }
  }
}
