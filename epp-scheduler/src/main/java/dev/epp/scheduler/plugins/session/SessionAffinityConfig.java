package dev.epp.scheduler.plugins.session;

import dev.epp.api.Parameters;
import dev.epp.api.PluginHandle;
import dev.epp.api.RequestContext;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The parameters shared by {@code session-affinity-filter} and {@code session-affinity-scorer}, as llm-d names them:
 * {@code strategy}, {@code profileName}, {@code encodedEndpointHeaderConfig.header} and {@code sessionIdConfig.*}.
 * Both nested blocks are read (and validated) whatever the strategy, so a configuration llm-d accepts loads here.
 *
 * @param profileName the profile whose pick is pinned; empty = the primary profile
 */
record SessionAffinityConfig(
    String strategy,
    String profileName,
    String tokenHeader,
    List<Source> sources,
    long ttlNanos,
    long sweepNanos,
    int maxSessions) {

  static final String ENCODED_ENDPOINT_HEADER = "encoded_endpoint_header";
  static final String SESSION_ID = "session_id";
  static final String DEFAULT_TOKEN_HEADER = "x-session-token";
  static final String DEFAULT_SESSION_ID_HEADER = "x-session-id";
  static final double DEFAULT_TTL_SECONDS = 300;
  static final double DEFAULT_SWEEP_SECONDS = 10;
  static final int DEFAULT_MAX_SESSIONS = 100_000;

  /** Where a session id is read from: a request header, or a {@link SessionIdProducer}'s output. */
  record Source(String header, SessionIdProducer producer) {

    /** The trimmed, non-empty session id this source finds in the request, or {@code null}. */
    String sessionId(RequestContext context) {
      String id = header != null ? context.request().headers().get(header) : producer.sessionId(context);
      if (id == null) {
        return null;
      }
      id = id.strip();
      return id.isEmpty() ? null : id;
    }
  }

  static SessionAffinityConfig parse(Parameters parameters, PluginHandle handle) {
    String strategy = parameters.getString("strategy", ENCODED_ENDPOINT_HEADER);
    if (!strategy.equals(ENCODED_ENDPOINT_HEADER) && !strategy.equals(SESSION_ID)) {
      throw parameters.invalid("strategy",
          "must be \"" + ENCODED_ENDPOINT_HEADER + "\" or \"" + SESSION_ID + "\", got \"" + strategy + "\"");
    }
    String profileName = parameters.getString("profileName", "");
    String tokenHeader =
        header(parameters.getParameters("encodedEndpointHeaderConfig").getString("header", ""), DEFAULT_TOKEN_HEADER);

    Parameters sessionId = parameters.getParameters("sessionIdConfig");
    List<Source> sources = new ArrayList<>();
    List<Parameters> configured = sessionId.getParametersList("sources");
    for (int i = 0; i < configured.size(); i++) {
      sources.add(source(sessionId, i, configured.get(i), handle));
    }
    if (sources.isEmpty()) {
      sources.add(new Source(DEFAULT_SESSION_ID_HEADER, null));
    }
    long ttl = seconds(sessionId, "evictionTtlSeconds", DEFAULT_TTL_SECONDS);
    long sweep = seconds(sessionId, "evictionSweepSeconds", DEFAULT_SWEEP_SECONDS);
    int maxSessions = sessionId.getInt("maxSessions", DEFAULT_MAX_SESSIONS);
    if (maxSessions < 1) {
      throw sessionId.invalid("maxSessions", "must be at least 1, got " + maxSessions);
    }
    return new SessionAffinityConfig(
        strategy, profileName, tokenHeader, List.copyOf(sources), ttl, sweep, maxSessions);
  }

  private static Source source(Parameters parent, int index, Parameters source, PluginHandle handle) {
    String header = source.getString("header", "").strip();
    String attribute = source.getString("attribute", "").strip();
    String producer = source.getString("producer", "").strip();
    if (header.isEmpty() == attribute.isEmpty()) {
      throw parent.invalid("sources[" + index + "]", "must set exactly one of 'header' and 'attribute'");
    }
    if (!header.isEmpty()) {
      if (!producer.isEmpty()) {
        throw source.invalid("producer", "applies only to an 'attribute' source");
      }
      return new Source(header.toLowerCase(Locale.ROOT), null);
    }
    if (!attribute.equals(SessionIdProducer.ATTRIBUTE)) {
      throw source.invalid("attribute", "must be \"" + SessionIdProducer.ATTRIBUTE
          + "\" (published by " + SessionIdProducer.TYPE + "), got \"" + attribute + "\"");
    }
    String name = producer.isEmpty() ? SessionIdProducer.TYPE : producer;
    return new Source(null, handle.plugin(name, SessionIdProducer.class).orElseThrow(() -> source.invalid(
        "producer", "must name a " + SessionIdProducer.TYPE + " under plugins; '" + name
            + "' is not one")));
  }

  /** Seconds > 0 as nanoseconds; 0 or absent means the default (as llm-d). */
  private static long seconds(Parameters parameters, String key, double defaultSeconds) {
    double seconds = parameters.getDouble(key, 0);
    if (seconds < 0) {
      throw parameters.invalid(key, "must be greater than 0, got " + seconds);
    }
    return (long) ((seconds == 0 ? defaultSeconds : seconds) * 1e9);
  }

  /** A configured header name, lower-cased and trimmed; {@code fallback} when empty. */
  private static String header(String configured, String fallback) {
    String header = configured.strip().toLowerCase(Locale.ROOT);
    return header.isEmpty() ? fallback : header;
  }
}
