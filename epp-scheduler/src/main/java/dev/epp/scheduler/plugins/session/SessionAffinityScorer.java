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
import dev.epp.api.scheduling.Scorer;
import dev.epp.api.scheduling.SchedulingResult;

/**
 * Soft session pin: scores 1 for the endpoint the request's session is pinned to, 0 for every other candidate (all 0
 * without a session). Parameters and strategies as {@link SessionAffinityFilter}.
 */
public final class SessionAffinityScorer implements Scorer, PreRequest, ResponseHeader {

  /** The plugin type. */
  public static final String TYPE = "session-affinity-scorer";

  private final TypedName typedName;
  private final SessionPin pin;

  private SessionAffinityScorer(String name, SessionPin pin) {
    this.typedName = new TypedName(TYPE, name);
    this.pin = pin;
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public void score(RequestContext context, Candidates candidates, double[] scores) {
    int pinned = pin.pinned(context, candidates);
    if (pinned >= 0) {
      scores[pinned] = 1;
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

  /** Creates {@link SessionAffinityScorer}s. */
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
    public SessionAffinityScorer create(PluginSpec spec, PluginHandle handle) {
      SessionAffinityConfig config = SessionAffinityConfig.parse(spec.parameters(), handle);
      return new SessionAffinityScorer(spec.name(), SessionPin.of(config, handle, spec.name()));
    }
  }
}
