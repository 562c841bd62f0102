package dev.epp.scheduler.plugins.label;

import dev.epp.api.Parameters;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.TypedName;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.Scorer;
import java.util.Locale;

/**
 * Soft affinity for endpoints whose label {@code labelKey} equals the value of request header {@code headerName}
 * (both parameters required; the header name is compared case-insensitively, the value exactly): 1 for those, 0 for
 * the others. A missing or empty header scores 0 everywhere. Use one instance per header-to-label mapping so each has
 * its own weight.
 */
public final class HeaderLabelAffinityScorer implements Scorer {

  /** The plugin type. */
  public static final String TYPE = "header-label-affinity-scorer";

  private final TypedName typedName;
  private final String headerName;
  private final String labelKey;

  /** A scorer named {@code name} comparing header {@code headerName} with label {@code labelKey}. */
  public HeaderLabelAffinityScorer(String name, String headerName, String labelKey) {
    this.typedName = new TypedName(TYPE, name);
    this.headerName = headerName.toLowerCase(Locale.ROOT);
    this.labelKey = labelKey;
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public void score(RequestContext context, Candidates candidates, double[] scores) {
    String wanted = context.request().headers().get(headerName);
    if (wanted == null || wanted.isEmpty()) {
      return;
    }
    for (int i = 0; i < candidates.size(); i++) {
      if (wanted.equals(candidates.endpoint(i).labels().get(labelKey))) {
        scores[i] = 1;
      }
    }
  }

  /** Creates {@link HeaderLabelAffinityScorer}s. */
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
    public HeaderLabelAffinityScorer create(PluginSpec spec, PluginHandle handle) {
      Parameters parameters = spec.parameters();
      return new HeaderLabelAffinityScorer(
          spec.name(), required(parameters, "headerName"), required(parameters, "labelKey"));
    }

    private static String required(Parameters parameters, String key) {
      String value = parameters.getString(key, "");
      if (value.isEmpty()) {
        throw parameters.invalid(key, "is required");
      }
      return value;
    }
  }
}
