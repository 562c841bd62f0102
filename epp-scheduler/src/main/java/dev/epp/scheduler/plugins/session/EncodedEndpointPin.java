package dev.epp.scheduler.plugins.session;

import dev.epp.api.Endpoint;
import dev.epp.api.RequestContext;
import dev.epp.api.StateKey;
import dev.epp.api.requestcontrol.InferenceResponse;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.ProfileResult;
import dev.epp.api.scheduling.SchedulingResult;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * Strategy {@code encoded_endpoint_header}, stateless: the response carries a token, the standard base64 of the
 * serving endpoint's name, and the client sends it back on the session's next request. A token decoding to
 * {@code <namespace>/<name>} (as llm-d writes it) pins to endpoint {@code <name>}. A token that is not base64 or names
 * no candidate pins nothing.
 */
final class EncodedEndpointPin implements SessionPin {

  private final String header;
  private final String profileName;
  private final StateKey<Endpoint> profilePick;

  EncodedEndpointPin(SessionAffinityConfig config, String pluginName) {
    this.header = config.tokenHeader();
    this.profileName = config.profileName();
    this.profilePick = StateKey.of(pluginName + "/profile-pick", Endpoint.class);
  }

  @Override
  public int pinned(RequestContext context, Candidates candidates) {
    String token = context.request().headers().get(header);
    String name = token == null ? null : endpointName(token);
    if (name == null) {
      return -1;
    }
    for (int i = 0; i < candidates.size(); i++) {
      if (candidates.endpoint(i).name().equals(name)) {
        return i;
      }
    }
    return -1;
  }

  @Override
  public void preRequest(RequestContext context, SchedulingResult result) {
    if (!profileName.isEmpty()) {
      ProfileResult profile = result.profileResults().get(profileName);
      if (profile != null && !profile.isEmpty()) {
        context.put(profilePick, profile.targets().get(0));
      }
    }
  }

  @Override
  public void responseHeaders(RequestContext context, InferenceResponse response) {
    Endpoint endpoint = profileName.isEmpty() ? response.target() : context.get(profilePick);
    if (endpoint != null) {
      response.headers().put(header, token(endpoint.name()));
    }
  }

  /** The token for the endpoint named {@code name}. */
  static String token(String name) {
    return Base64.getEncoder().encodeToString(name.getBytes(StandardCharsets.UTF_8));
  }

  /** The endpoint name in {@code token}, or {@code null} when it is not base64. */
  static String endpointName(String token) {
    byte[] decoded;
    try {
      decoded = Base64.getDecoder().decode(token.strip());
    } catch (IllegalArgumentException e) {
      return null;
    }
    String name = new String(decoded, StandardCharsets.UTF_8);
    return name.substring(name.lastIndexOf('/') + 1);
  }
}
