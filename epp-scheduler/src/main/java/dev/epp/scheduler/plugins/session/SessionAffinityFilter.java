package dev.epp.scheduler.plugins.session;

import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.TypedName;
import dev.epp.api.requestcontrol.InferenceResponse;
import dev.epp.api.requestcontrol.PreRequest;
import dev.epp.api.requestcontrol.ResponseHeader;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.Filter;
import java.util.BitSet;
import dev.epp.api.scheduling.SchedulingResult;

/**
 * Hard session pin: keeps only the endpoint the request's session is pinned to when it is a candidate, otherwise
 * every candidate (never none). Parameters as {@code session-affinity-scorer}: {@code strategy}
 * ({@code encoded_endpoint_header} default, or {@code session_id}), {@code profileName},
 * {@code encodedEndpointHeaderConfig.header} ({@code x-session-token}), {@code sessionIdConfig.sources} (default one
 * header source {@code x-session-id}), {@code sessionIdConfig.evictionTtlSeconds} (300),
 * {@code sessionIdConfig.evictionSweepSeconds} (10) and {@code sessionIdConfig.maxSessions} (100000). Under
 * {@code encoded_endpoint_header} the response carries the token the client sends back.
 */
public final class SessionAffinityFilter implements Filter, PreRequest, ResponseHeader {

  /** The plugin type. */
  public static final String TYPE = "session-affinity-filter";

  private final TypedName typedName;
  private final SessionPin pin;

  private SessionAffinityFilter(String name, SessionPin pin) {
    this.typedName = new TypedName(TYPE, name);
    this.pin = pin;
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public void filter(RequestContext context, Candidates candidates, BitSet keep) {
    int pinned = pin.pinned(context, candidates);
    if (pinned >= 0) {
      keep.clear(0, pinned);
      keep.clear(pinned + 1, candidates.size());
    }
  }

  @Override
  public void preRequest(RequestContext context, SchedulingResult result) {
    pin.preRequest(context, result);
  }

  @Override
  public void responseHeaders(RequestContext context, InferenceResponse response) {
    pin.responseHeaders(context, response);
  }

  /** How sessions are pinned; for tests. */
  SessionPin pin() {
    return pin;
  }

  /** Creates {@link SessionAffinityFilter}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    /** Alpha in llm-d: needs {@code --allow-experimental-plugins}. */
    @Override
    public boolean experimental() {
      return true;
    }

    @Override
    public SessionAffinityFilter create(PluginSpec spec, PluginHandle handle) {
      SessionAffinityConfig config = SessionAffinityConfig.parse(spec.parameters(), handle);
      return new SessionAffinityFilter(spec.name(), SessionPin.of(config, handle, spec.name()));
    }
  }
}
