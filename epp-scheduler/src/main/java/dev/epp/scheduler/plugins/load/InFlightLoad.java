package dev.epp.scheduler.plugins.load;

import dev.epp.api.Endpoint;
import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginHandle;
import dev.epp.api.RequestContext;
import dev.epp.api.scheduling.Candidates;

/**
 * The in-flight load an {@link InFlightLoadProducer} tracks, as scorers, filters and saturation detectors read it.
 * They find the producer by name with {@code PluginHandle.plugin(name, InFlightLoad.class)}.
 *
 * <p><b>Threading:</b> thread-safe; reads are lock-free and allocate nothing.
 */
public interface InFlightLoad {

  /** The requests routed to {@code endpoint} whose responses have not ended; 0 for an endpoint never routed to. */
  long requests(Endpoint endpoint);

  /** The estimated tokens {@code endpoint} has yet to process for its in-flight requests. */
  long tokens(Endpoint endpoint);

  /**
   * The tokens the request of {@code context} would add to the candidate at {@code position}
   * ({@link Candidates#position(int)}): its prompt tokens that candidate does not hold in its prefix cache, plus the
   * estimated output when configured; 0 if the producer did not see the request.
   */
  long requestTokens(RequestContext context, int position);

  /** The parameter naming the producer a consumer reads. */
  String PRODUCER_NAME = "inFlightLoadProducerName";

  /**
   * The producer named by the {@value #PRODUCER_NAME} parameter (default {@value InFlightLoadProducer#TYPE}),
   * declared anywhere under {@code plugins}.
   *
   * @throws PluginConfigException if there is no such producer
   */
  static InFlightLoad find(Parameters parameters, PluginHandle handle) {
    String name = parameters.getString(PRODUCER_NAME, InFlightLoadProducer.TYPE);
    return handle.plugin(name, InFlightLoad.class)
        .orElseThrow(() -> parameters.invalid(PRODUCER_NAME, "names no " + InFlightLoadProducer.TYPE + " plugin '"
            + name + "' under plugins"));
  }
}
