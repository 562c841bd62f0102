package dev.epp.api.requestcontrol;

import dev.epp.api.Plugin;
import dev.epp.api.RequestContext;
import dev.epp.api.scheduling.Candidates;

/**
 * Decides whether a request may be scheduled at all.
 *
 * <p>To deny, throw {@link dev.epp.api.InferenceException}; its code becomes the client's status. Any other exception
 * is a plugin failure: it is logged and the request is admitted.
 *
 * <p><b>Threading:</b> called concurrently for different requests; must be thread-safe and non-blocking.
 */
public interface Admission extends Plugin {

  /**
   * Admits the request by returning normally, or denies it by throwing {@link dev.epp.api.InferenceException}.
   *
   * @param candidates every candidate endpoint of the request
   */
  void admit(RequestContext context, Candidates candidates);
}
