package dev.epp.api.requestcontrol;

import dev.epp.api.Plugin;
import dev.epp.api.RequestContext;

/**
 * Reads an assembled request, before its fairness ID is derived and before admission and scheduling (llm-d's
 * {@code RequestHeaderProcessor}), and stores what it finds in the {@link RequestContext}, e.g.
 * {@link Fairness#AGENT_IDENTITY}.
 *
 * <p>A plugin that throws is logged and skipped; one that throws an {@link dev.epp.api.InferenceException} fails the
 * request with it.
 *
 * <p><b>Threading:</b> called concurrently for different requests; must be thread-safe and non-blocking.
 */
public interface RequestHeaderProcessor extends Plugin {

  /** Processes one request. */
  void requestHeader(RequestContext context);
}
