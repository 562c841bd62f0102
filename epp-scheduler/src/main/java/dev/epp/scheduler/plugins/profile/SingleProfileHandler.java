package dev.epp.scheduler.plugins.profile;

import dev.epp.api.InferenceException;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.TypedName;
import dev.epp.api.scheduling.ProfileHandler;
import dev.epp.api.scheduling.ProfileResult;
import dev.epp.api.scheduling.SchedulingResult;
import java.util.List;
import java.util.Map;

/**
 * Runs the configuration's only profile once and makes it the primary profile. The configuration loader rejects this
 * handler when more than one profile is configured. No parameters.
 *
 * <p>{@link #processResults} fails with {@link InferenceException.Code#RESOURCE_EXHAUSTED} (HTTP 429, as the Go
 * director reports every scheduling failure) when the profile found no endpoint, with Go's message
 * {@code failed to find target endpoint: failed to run scheduler profile '<name>'}.
 */
public final class SingleProfileHandler implements ProfileHandler {

  /** The plugin type. */
  public static final String TYPE = "single-profile-handler";

  private final TypedName typedName;

  /** A handler named {@code name}. */
  public SingleProfileHandler(String name) {
    this.typedName = new TypedName(TYPE, name);
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  /** All profiles on the first call, then none. */
  @Override
  public List<String> pickProfiles(
      RequestContext context, List<String> profiles, Map<String, ProfileResult> results) {
    return results.isEmpty() ? profiles : List.of();
  }

  @Override
  public SchedulingResult processResults(RequestContext context, Map<String, ProfileResult> results) {
    if (results.size() != 1) {
      throw failure(
          "single profile handler is intended to be used with a single profile, failed to process "
              + results.size() + " profiles");
    }
    Map.Entry<String, ProfileResult> only = results.entrySet().iterator().next();
    if (only.getValue().isEmpty()) {
      throw failure("failed to run scheduler profile '" + only.getKey() + "'");
    }
    return new SchedulingResult(only.getKey(), results);
  }

  private static InferenceException failure(String cause) {
    return new InferenceException(
        InferenceException.Code.RESOURCE_EXHAUSTED, "failed to find target endpoint: " + cause);
  }

  /** Creates {@link SingleProfileHandler}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public SingleProfileHandler create(PluginSpec spec, PluginHandle handle) {
      return new SingleProfileHandler(spec.name());
    }
  }
}
