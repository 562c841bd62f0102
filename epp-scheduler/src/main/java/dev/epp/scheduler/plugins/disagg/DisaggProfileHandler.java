package dev.epp.scheduler.plugins.disagg;

import dev.epp.api.InferenceException;
import dev.epp.api.MetricsRecorder;
import dev.epp.api.Parameters;
import dev.epp.api.Plugin;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.TypedName;
import dev.epp.api.requestcontrol.PreRequest;
import dev.epp.api.scheduling.ProfileHandler;
import dev.epp.api.scheduling.ProfileResult;
import dev.epp.api.scheduling.SchedulingResult;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * llm-d's {@code disagg-profile-handler}: runs the decode profile for every request and, when their deciders approve,
 * the encode and prefill profiles; the decode result is primary. Its pre-request hook tells the decode endpoint's
 * sidecar where prefill and encode run (see {@link DisaggHeadersHandler}).
 *
 * <p>Stage order {@code decode-first} (default): decode; if it found an endpoint, the encode then the prefill decider
 * are asked with the decode endpoint, and the approved profiles run. {@code prefill-first}: the prefill profile runs
 * whenever it is configured (no prefill decider allowed), then encode if its decider approves (without a decode
 * endpoint), then decode. A stage whose profile is not configured or whose decider is not set never runs. When
 * decode finds no endpoint the request fails with {@code RESOURCE_EXHAUSTED} (429), {@code failed to find target
 * endpoint: failed to find available decode workers}. Each routed request counts one decision
 * ({@code decode-only}, {@code prefill-decode}, {@code encode-decode}, {@code encode-prefill-decode}) with
 * {@link MetricsRecorder#recordDisaggDecision}.
 *
 * <p>Parameters: {@code profiles.decode}, {@code profiles.prefill}, {@code profiles.encode} (profile names, default
 * {@code decode}, {@code prefill}, {@code encode}); {@code deciders.prefill}, {@code deciders.encode} (names of
 * {@link Decider} plugins declared before the handler; unset = stage disabled); {@code stageOrder}
 * ({@code decode-first} or {@code prefill-first}). The flat parameters of older llm-d releases ({@code decodeProfile},
 * {@code prefillProfile}, {@code encodeProfile}, {@code prefillDeciderPluginName}, {@code encodeDeciderPluginName},
 * {@code deciderPluginName}) are accepted with a deprecation warning, but not mixed with the nested ones.
 *
 * <p>The deprecated type {@code pd-profile-handler} is an alias with a deprecation warning and its own parameters:
 * {@code decodeProfile}, {@code prefillProfile}, {@code deciderPluginName} (default {@code prefix-based-pd-decider});
 * {@code prefixPluginType}, {@code prefixPluginName} and {@code prefixMatchInfoProducerName} are accepted and ignored
 * (llm-d uses them only to declare data dependencies); {@code primaryPort} other than 0 is refused (not supported).
 */
public final class DisaggProfileHandler implements ProfileHandler, PreRequest {

  /** The plugin type. */
  public static final String TYPE = "disagg-profile-handler";
  /** The deprecated prefill/decode-only handler's type, an alias. */
  public static final String PD_TYPE = "pd-profile-handler";
  /** The default decode profile name. */
  public static final String DEFAULT_DECODE_PROFILE = "decode";
  /** The default prefill profile name. */
  public static final String DEFAULT_PREFILL_PROFILE = "prefill";
  /** The default encode profile name. */
  public static final String DEFAULT_ENCODE_PROFILE = "encode";

  private static final Logger log = LoggerFactory.getLogger(DisaggProfileHandler.class);
  private static final List<String> FLAT_PARAMETERS = List.of("decodeProfile", "prefillProfile", "encodeProfile",
      "prefillDeciderPluginName", "encodeDeciderPluginName", "deciderPluginName");

  private final TypedName typedName;
  private final boolean prefillFirst;
  private final String decode;
  private final String prefill;
  private final String encode;
  private final Decider prefillDecider;
  private final Decider encodeDecider;
  private final MetricsRecorder metrics;

  private DisaggProfileHandler(TypedName typedName, boolean prefillFirst, String decode, String prefill,
      String encode, Decider prefillDecider, Decider encodeDecider, MetricsRecorder metrics) {
    this.typedName = typedName;
    this.prefillFirst = prefillFirst;
    this.decode = decode;
    this.prefill = prefill;
    this.encode = encode;
    this.prefillDecider = prefillDecider;
    this.encodeDecider = encodeDecider;
    this.metrics = metrics;
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public List<String> pickProfiles(
      RequestContext context, List<String> profiles, Map<String, ProfileResult> results) {
    return prefillFirst ? prefillFirst(context, profiles, results) : decodeFirst(context, profiles, results);
  }

  private List<String> decodeFirst(
      RequestContext context, List<String> profiles, Map<String, ProfileResult> results) {
    ProfileResult decodeResult = results.get(decode);
    if (decodeResult == null) {
      return profiles.contains(decode) ? List.of(decode) : List.of();
    }
    if (decodeResult.isEmpty()) {
      return List.of();
    }
    if (results.size() == 1) {
      List<String> next = new ArrayList<>(2);
      if (approves(encodeDecider, encode, context, profiles, decodeResult)) {
        next.add(encode);
      }
      if (approves(prefillDecider, prefill, context, profiles, decodeResult)) {
        next.add(prefill);
      }
      if (!next.isEmpty()) {
        return next;
      }
    }
    recordDecision(context, results);
    return List.of();
  }

  private static boolean approves(Decider decider, String profile, RequestContext context, List<String> profiles,
      ProfileResult decodeResult) {
    return decider != null && profiles.contains(profile)
        && decider.disaggregate(context, decodeResult == null ? null : decodeResult.targets().get(0));
  }

  private List<String> prefillFirst(
      RequestContext context, List<String> profiles, Map<String, ProfileResult> results) {
    ProfileResult decodeResult = results.get(decode);
    if (decodeResult != null) {
      if (!decodeResult.isEmpty()) {
        recordDecision(context, results);
      }
      return List.of();
    }
    if (profiles.contains(prefill) && !results.containsKey(prefill)) {
      return List.of(prefill);
    }
    if (!profiles.contains(decode)) {
      return List.of();
    }
    return approves(encodeDecider, encode, context, profiles, null) ? List.of(encode, decode) : List.of(decode);
  }

  private void recordDecision(RequestContext context, Map<String, ProfileResult> results) {
    boolean encoded = found(results.get(encode));
    boolean prefilled = found(results.get(prefill));
    String decision = encoded && prefilled ? "encode-prefill-decode"
        : encoded ? "encode-decode" : prefilled ? "prefill-decode" : "decode-only";
    metrics.recordDisaggDecision(typedName, context.request().targetModel(), decision);
  }

  private static boolean found(ProfileResult result) {
    return result != null && !result.isEmpty();
  }

  /** The decode result as primary, with the prefill and encode results that found endpoints. */
  @Override
  public SchedulingResult processResults(RequestContext context, Map<String, ProfileResult> results) {
    ProfileResult decodeResult = results.get(decode);
    if (!found(decodeResult)) {
      throw new InferenceException(InferenceException.Code.RESOURCE_EXHAUSTED,
          "failed to find target endpoint: failed to find available decode workers");
    }
    Map<String, ProfileResult> kept = new LinkedHashMap<>(4);
    kept.put(decode, decodeResult);
    for (String stage : new String[] {prefill, encode}) {
      if (found(results.get(stage))) {
        kept.put(stage, results.get(stage));
      }
    }
    return new SchedulingResult(decode, kept);
  }

  /** Sets the sidecar headers for the prefill and encode results, as {@link DisaggHeadersHandler} does. */
  @Override
  public void preRequest(RequestContext context, SchedulingResult result) {
    DisaggHeadersHandler.setSidecarHeaders(context, result, prefill, encode);
  }

  private static DisaggProfileHandler disagg(PluginSpec spec, PluginHandle handle) {
    Parameters parameters = spec.parameters();
    boolean flat = false;
    for (String key : FLAT_PARAMETERS) {
      flat |= parameters.contains(key);
    }
    if (flat && (parameters.contains("profiles") || parameters.contains("deciders"))) {
      throw new PluginConfigException("use either the nested 'profiles'/'deciders' parameters or the deprecated flat "
          + "ones (" + String.join(", ", FLAT_PARAMETERS) + "), not both");
    }
    boolean prefillFirst = prefillFirst(parameters);
    Parameters profiles = flat ? parameters : parameters.getParameters("profiles");
    Parameters deciders = flat ? parameters : parameters.getParameters("deciders");
    String decode = profiles.getString(flat ? "decodeProfile" : "decode", DEFAULT_DECODE_PROFILE);
    String prefill = profiles.getString(flat ? "prefillProfile" : "prefill", DEFAULT_PREFILL_PROFILE);
    String encode = profiles.getString(flat ? "encodeProfile" : "encode", DEFAULT_ENCODE_PROFILE);
    String prefillKey = flat && !parameters.contains("prefillDeciderPluginName") ? "deciderPluginName"
        : flat ? "prefillDeciderPluginName" : "prefill";
    String encodeKey = flat ? "encodeDeciderPluginName" : "encode";
    if (flat) {
      parameters.getString("deciderPluginName", "");
      log.warn("DEPRECATION: plugin '{}': the flat parameters of '{}' are deprecated; use 'profiles.decode', "
          + "'profiles.prefill', 'profiles.encode', 'deciders.prefill' and 'deciders.encode'", spec.name(), TYPE);
    }
    Decider prefillDecider = decider(deciders, prefillKey, "", handle);
    if (prefillFirst && prefillDecider != null) {
      throw parameters.invalid("stageOrder", "prefill-first does not support a prefill decider");
    }
    return new DisaggProfileHandler(spec.typedName(), prefillFirst, decode, prefill, encode, prefillDecider,
        decider(deciders, encodeKey, "", handle), handle.metrics());
  }

  /** Whether {@code stageOrder} is prefill-first; llm-d's spellings (case, dashes and underscores ignored). */
  private static boolean prefillFirst(Parameters parameters) {
    String order = parameters.getString("stageOrder", "");
    return switch (order.toLowerCase(Locale.ROOT).replace("-", "").replace("_", "")) {
      case "", "decodefirst", "decode" -> false;
      case "prefillfirst", "prefill" -> true;
      default -> throw parameters.invalid("stageOrder",
          "must be 'decode-first' or 'prefill-first', got '" + order + "'");
    };
  }

  private static DisaggProfileHandler pd(PluginSpec spec, PluginHandle handle) {
    Parameters parameters = spec.parameters();
    String decode = parameters.getString("decodeProfile", DEFAULT_DECODE_PROFILE);
    String prefill = parameters.getString("prefillProfile", DEFAULT_PREFILL_PROFILE);
    parameters.getString("prefixPluginType", "");
    parameters.getString("prefixPluginName", "");
    parameters.getString("prefixMatchInfoProducerName", "");
    if (parameters.getInt("primaryPort", 0) != 0) {
      throw parameters.invalid("primaryPort", "is not supported; remove it (not needed with Istio 1.28.1 or later)");
    }
    Decider decider = decider(parameters, "deciderPluginName", PrefixBasedPdDecider.TYPE, handle);
    DisaggProfileHandler handler = new DisaggProfileHandler(spec.typedName(), false, decode, prefill,
        DEFAULT_ENCODE_PROFILE, decider, null, handle.metrics());
    log.warn("DEPRECATION: plugin '{}': type '{}' is deprecated; use '{}'", spec.name(), PD_TYPE, TYPE);
    return handler;
  }

  /** The decider named by {@code key}, or {@code null} when it names none. */
  private static Decider decider(Parameters parameters, String key, String defaultName, PluginHandle handle) {
    String name = parameters.getString(key, defaultName);
    if (name.isEmpty()) {
      return null;
    }
    return handle.plugin(name, Decider.class).orElseThrow(() -> parameters.invalid(key,
        handle.plugin(name, Plugin.class).isPresent()
            ? "names plugin '" + name + "', which is not a decider"
            : "names no plugin '" + name + "' declared before this handler under plugins"));
  }

  /** Creates {@code disagg-profile-handler}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public DisaggProfileHandler create(PluginSpec spec, PluginHandle handle) {
      return disagg(spec, handle);
    }
  }

  /** Creates {@code pd-profile-handler}s, logging that the type is deprecated. */
  public static final class PdFactory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public PdFactory() {}

    @Override
    public String type() {
      return PD_TYPE;
    }

    @Override
    public DisaggProfileHandler create(PluginSpec spec, PluginHandle handle) {
      return pd(spec, handle);
    }
  }
}
