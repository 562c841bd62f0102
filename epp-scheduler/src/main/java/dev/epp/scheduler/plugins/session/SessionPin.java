package dev.epp.scheduler.plugins.session;

import dev.epp.api.PluginHandle;
import dev.epp.api.RequestContext;
import dev.epp.api.requestcontrol.InferenceResponse;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.SchedulingResult;

/** How a session is tied to an endpoint: one implementation per {@code strategy}. Thread-safe. */
interface SessionPin {

  /** The index of the candidate the request's session is pinned to, or -1 when there is none among them. */
  int pinned(RequestContext context, Candidates candidates);

  /** Records the endpoint the request was scheduled to. */
  void preRequest(RequestContext context, SchedulingResult result);

  /** Writes what the client must send back, if anything. */
  void responseHeaders(RequestContext context, InferenceResponse response);

  /** The pin for {@code config}'s strategy, for the plugin named {@code pluginName}. */
  static SessionPin of(SessionAffinityConfig config, PluginHandle handle, String pluginName) {
    return config.strategy().equals(SessionAffinityConfig.SESSION_ID)
        ? SessionIdPin.start(config, handle, pluginName)
        : new EncodedEndpointPin(config, pluginName);
  }
}
