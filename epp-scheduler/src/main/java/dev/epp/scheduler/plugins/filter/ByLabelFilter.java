package dev.epp.scheduler.plugins.filter;

import dev.epp.api.Endpoint;
import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.TypedName;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.Filter;
import java.util.BitSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the endpoints whose label {@code label} has one of {@code validValues}: llm-d's deprecated {@code by-label}
 * (use {@code label-selector-filter}); creating one logs a deprecation warning.
 *
 * <p>An endpoint without the label is kept when {@code allowsNoLabel} is true, or (as in llm-d) when
 * {@code validValues} contains the empty string.
 *
 * <p>Parameters: {@code label} (required), {@code validValues} (list of strings; required non-empty unless
 * {@code allowsNoLabel}), {@code allowsNoLabel} (default false).
 */
public final class ByLabelFilter implements Filter {

  /** The plugin type. */
  public static final String TYPE = "by-label";

  private static final Logger log = LoggerFactory.getLogger(ByLabelFilter.class);

  private final TypedName typedName;
  private final String label;
  private final Set<String> validValues;
  private final boolean allowsNoLabel;

  /**
   * A filter named {@code name}.
   *
   * @throws PluginConfigException if a parameter is invalid
   */
  public ByLabelFilter(String name, Parameters parameters) {
    this.typedName = new TypedName(TYPE, name);
    this.label = parameters.getString("label", "");
    if (label.isEmpty()) {
      throw parameters.invalid("label", "must be specified");
    }
    this.validValues = Set.copyOf(parameters.getStringList("validValues", List.of()));
    this.allowsNoLabel = parameters.getBoolean("allowsNoLabel", false);
    if (validValues.isEmpty() && !allowsNoLabel) {
      throw parameters.invalid("validValues", "must not be empty unless 'allowsNoLabel' is true");
    }
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public void filter(RequestContext context, Candidates candidates, BitSet keep) {
    for (int i = 0, n = candidates.size(); i < n; i++) {
      String value = candidates.endpoint(i).labels().get(label);
      boolean kept = value == null ? allowsNoLabel || validValues.contains("") : validValues.contains(value);
      if (!kept) {
        keep.clear(i);
      }
    }
  }

  /** Creates {@link ByLabelFilter}s, logging that the type is deprecated. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public ByLabelFilter create(PluginSpec spec, PluginHandle handle) {
      ByLabelFilter filter = new ByLabelFilter(spec.name(), spec.parameters());
      log.warn("DEPRECATION: plugin '{}': type '{}' is deprecated; use '{}'", spec.name(), TYPE,
          LabelSelectorFilter.TYPE);
      return filter;
    }
  }
}
