package dev.epp.scheduler.plugins.session;

import com.dynatrace.hash4j.hashing.Hasher64;
import com.dynatrace.hash4j.hashing.Hashing;
import dev.epp.api.PluginHandle;
import dev.epp.api.RequestContext;
import dev.epp.api.StateKey;
import dev.epp.api.Ticker;
import dev.epp.api.requestcontrol.InferenceResponse;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.ProfileResult;
import dev.epp.api.scheduling.SchedulingResult;
import dev.epp.scheduler.plugins.session.SessionAffinityConfig.Source;
import java.lang.ref.WeakReference;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Strategy {@code session_id}: a map from the client's session id to the endpoint that served it. An unbound session
 * pins nothing and is bound, in pre-request, to the endpoint the request was scheduled to; a bound session whose
 * endpoint is not a candidate pins nothing and is rebound to where the request went. Nothing is written to the client.
 *
 * <p>Memory is bounded: sessions are keyed by a 64-bit hash of the id (so long ids cost nothing extra; two ids
 * colliding merely share an endpoint preference), at most {@code maxSessions} are bound, and a session unused for the
 * TTL is removed by a sweep every {@code evictionSweepSeconds} on {@link PluginHandle#scheduler()}. When the map is
 * full a new session is not bound (it is scheduled normally) until the sweep frees room, so a flood of one-off ids
 * never evicts live sessions. Lock-free.
 */
final class SessionIdPin implements SessionPin {

  private static final Hasher64 HASHER = Hashing.xxh3_64();

  private final List<Source> sources;
  private final String profileName;
  private final Ticker ticker;
  private final long ttlNanos;
  private final int maxSessions;
  private final StateKey<Boolean> boundEndpointPresent;
  private final ConcurrentHashMap<Long, Binding> bindings = new ConcurrentHashMap<>();
  private final AtomicInteger size = new AtomicInteger();

  /** The endpoint a session is bound to and when the binding was last used. */
  private static final class Binding {
    final String endpoint;
    volatile long lastUsedNanos;

    Binding(String endpoint, long lastUsedNanos) {
      this.endpoint = endpoint;
      this.lastUsedNanos = lastUsedNanos;
    }
  }

  SessionIdPin(SessionAffinityConfig config, Ticker ticker, String pluginName) {
    this.sources = config.sources();
    this.profileName = config.profileName();
    this.ticker = ticker;
    this.ttlNanos = config.ttlNanos();
    this.maxSessions = config.maxSessions();
    this.boundEndpointPresent = StateKey.of(pluginName + "/bound-endpoint-present", Boolean.class);
  }

  /** A pin whose sweep runs on the handle's scheduler until the pin is no longer referenced. */
  static SessionIdPin start(SessionAffinityConfig config, PluginHandle handle, String pluginName) {
    SessionIdPin pin = new SessionIdPin(config, handle.ticker(), pluginName);
    Sweeper sweeper = new Sweeper(pin);
    sweeper.future = handle.scheduler().scheduleWithFixedDelay(
        sweeper, config.sweepNanos(), config.sweepNanos(), TimeUnit.NANOSECONDS);
    return pin;
  }

  @Override
  public int pinned(RequestContext context, Candidates candidates) {
    String id = sessionId(context);
    Binding binding = id == null ? null : bindings.get(key(id));
    if (binding == null) {
      return -1;
    }
    for (int i = 0; i < candidates.size(); i++) {
      if (candidates.endpoint(i).name().equals(binding.endpoint)) {
        context.put(boundEndpointPresent, Boolean.TRUE);
        return i;
      }
    }
    context.put(boundEndpointPresent, Boolean.FALSE);
    return -1;
  }

  @Override
  public void preRequest(RequestContext context, SchedulingResult result) {
    String id = sessionId(context);
    ProfileResult profile = result.profileResults().get(profileName.isEmpty() ? result.primaryProfile() : profileName);
    if (id == null || profile == null || profile.isEmpty()) {
      return;
    }
    String picked = profile.targets().get(0).name();
    long now = ticker.nanos();
    Long key = key(id);
    Binding binding = bindings.get(key);
    if (binding == null) {
      bind(key, picked, now);
    } else if (binding.endpoint.equals(picked)) {
      binding.lastUsedNanos = now;
    } else if (Boolean.FALSE.equals(context.get(boundEndpointPresent))) {
      // The bound endpoint was not a candidate: move the session. A soft scorer losing to other scorers does not.
      bindings.replace(key, binding, new Binding(picked, now));
    }
  }

  @Override
  public void responseHeaders(RequestContext context, InferenceResponse response) {}

  /** How many sessions are bound. */
  int size() {
    return size.get();
  }

  /** The name of the endpoint the session {@code id} is bound to, or {@code null}. */
  String boundEndpoint(String id) {
    Binding binding = bindings.get(key(id));
    return binding == null ? null : binding.endpoint;
  }

  /** Removes the sessions unused for longer than the TTL. */
  void sweep() {
    long now = ticker.nanos();
    bindings.forEach((key, binding) -> {
      if (now - binding.lastUsedNanos > ttlNanos && bindings.remove(key, binding)) {
        size.decrementAndGet();
      }
    });
  }

  private void bind(Long key, String endpoint, long now) {
    if (size.incrementAndGet() > maxSessions || bindings.putIfAbsent(key, new Binding(endpoint, now)) != null) {
      size.decrementAndGet();
    }
  }

  private String sessionId(RequestContext context) {
    for (Source source : sources) {
      String id = source.sessionId(context);
      if (id != null) {
        return id;
      }
    }
    return null;
  }

  private static Long key(String id) {
    return HASHER.hashCharsToLong(id);
  }

  /** Sweeps a pin until it is garbage, then cancels itself. */
  private static final class Sweeper implements Runnable {
    private final WeakReference<SessionIdPin> pin;
    volatile ScheduledFuture<?> future;

    Sweeper(SessionIdPin pin) {
      this.pin = new WeakReference<>(pin);
    }

    @Override
    public void run() {
      SessionIdPin target = pin.get();
      if (target != null) {
        target.sweep();
      } else if (future != null) {
        future.cancel(false);
      }
    }
  }
}
