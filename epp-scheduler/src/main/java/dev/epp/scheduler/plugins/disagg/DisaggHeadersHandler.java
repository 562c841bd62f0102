package dev.epp.scheduler.plugins.disagg;

import dev.epp.api.Endpoint;
import dev.epp.api.Parameters;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.TypedName;
import dev.epp.api.requestcontrol.PreRequest;
import dev.epp.api.requestcontrol.UpstreamHeaders;
import dev.epp.api.scheduling.ProfileResult;
import dev.epp.api.scheduling.SchedulingResult;
import dev.epp.scheduler.Director;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * llm-d's deprecated {@code disagg-headers-handler} and {@code prefill-header-handler} (use
 * {@code disagg-profile-handler}, which sets the same headers): tells the decode endpoint's sidecar where the other
 * stages run by setting upstream request headers ({@link UpstreamHeaders}):
 * {@value Director#PREFILLER_HOST_PORT_HEADER} to the {@code ip:port} of the prefill profile's first target, and
 * {@value Director#ENCODER_HOSTS_PORTS_HEADER} to the comma-separated {@code ip:port} of the encode profile's targets;
 * a header is left out when its profile did not run or found no endpoint. Creating one logs a deprecation warning.
 *
 * <p>Parameters: {@code prefillProfile} (default {@code prefill}), {@code encodeProfile} (default {@code encode}).
 */
public final class DisaggHeadersHandler implements PreRequest {

  /** The plugin type. */
  public static final String TYPE = "disagg-headers-handler";
  /** The older name of the type, an alias. */
  public static final String PREFILL_HEADER_HANDLER_TYPE = "prefill-header-handler";

  private static final Logger log = LoggerFactory.getLogger(DisaggHeadersHandler.class);

  private final TypedName typedName;
  private final String prefillProfile;
  private final String encodeProfile;

  private DisaggHeadersHandler(TypedName typedName, Parameters parameters) {
    this.typedName = typedName;
    this.prefillProfile = parameters.getString("prefillProfile", DisaggProfileHandler.DEFAULT_PREFILL_PROFILE);
    this.encodeProfile = parameters.getString("encodeProfile", DisaggProfileHandler.DEFAULT_ENCODE_PROFILE);
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public void preRequest(RequestContext context, SchedulingResult result) {
    setSidecarHeaders(context, result, prefillProfile, encodeProfile);
  }

  /** Sets the sidecar headers for the prefill and encode profiles' results, if they found endpoints. */
  static void setSidecarHeaders(
      RequestContext context, SchedulingResult result, String prefillProfile, String encodeProfile) {
    ProfileResult prefill = result.profileResults().get(prefillProfile);
    if (prefill != null && !prefill.isEmpty()) {
      UpstreamHeaders.set(context, Director.PREFILLER_HOST_PORT_HEADER, prefill.targets().get(0).hostPort());
    }
    ProfileResult encode = result.profileResults().get(encodeProfile);
    if (encode != null && !encode.isEmpty()) {
      StringBuilder hostPorts = new StringBuilder();
      for (Endpoint target : encode.targets()) {
        if (hostPorts.length() > 0) {
          hostPorts.append(',');
        }
        hostPorts.append(target.hostPort());
      }
      UpstreamHeaders.set(context, Director.ENCODER_HOSTS_PORTS_HEADER, hostPorts.toString());
    }
  }

  private static DisaggHeadersHandler create(String type, PluginSpec spec) {
    DisaggHeadersHandler handler = new DisaggHeadersHandler(new TypedName(type, spec.name()), spec.parameters());
    log.warn("DEPRECATION: plugin '{}': type '{}' is deprecated; use '{}', which sets the same headers", spec.name(),
        type, DisaggProfileHandler.TYPE);
    return handler;
  }

  /** Creates {@code disagg-headers-handler}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public DisaggHeadersHandler create(PluginSpec spec, PluginHandle handle) {
      return DisaggHeadersHandler.create(TYPE, spec);
    }
  }

  /** Creates {@code prefill-header-handler}s. */
  public static final class PrefillHeaderFactory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public PrefillHeaderFactory() {}

    @Override
    public String type() {
      return PREFILL_HEADER_HANDLER_TYPE;
    }

    @Override
    public DisaggHeadersHandler create(PluginSpec spec, PluginHandle handle) {
      return DisaggHeadersHandler.create(PREFILL_HEADER_HANDLER_TYPE, spec);
    }
  }
}
