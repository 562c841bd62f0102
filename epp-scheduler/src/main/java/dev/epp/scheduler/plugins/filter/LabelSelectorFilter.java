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
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Keeps the endpoints whose {@link Endpoint#labels()} match a Kubernetes label selector, given as the parameters
 * (the type name and parameters of llm-d-router's filter; GIE v1.5.0 has no equivalent):
 *
 * <ul>
 *   <li>{@code matchLabels}: an object of label → value pairs; each pair requires the label with exactly that value.
 *   <li>{@code matchExpressions}: a list of {@code {key, operator, values}}. {@code In} requires the label with one
 *       of {@code values}; {@code NotIn} requires the label to be absent or not one of {@code values}; {@code Exists}
 *       and {@code DoesNotExist} require the label's presence or absence. {@code In}/{@code NotIn} need a non-empty
 *       {@code values}; {@code Exists}/{@code DoesNotExist} take none.
 * </ul>
 *
 * <p>An endpoint is kept if it meets every requirement. An empty selector is a configuration error, since it would
 * keep every endpoint. The request is not consulted. Label key and value syntax is not validated.
 */
public final class LabelSelectorFilter implements Filter {

  /** The plugin type. */
  public static final String TYPE = "label-selector-filter";

  private static final String MATCH_LABELS = "matchLabels";
  private static final String MATCH_EXPRESSIONS = "matchExpressions";

  private final TypedName typedName;
  private final Requirement[] requirements;

  /**
   * A filter named {@code name} with the selector in {@code parameters}.
   *
   * @throws PluginConfigException if the selector is empty or malformed
   */
  public LabelSelectorFilter(String name, Parameters parameters) {
    this.typedName = new TypedName(TYPE, name);
    List<Requirement> parsed = new ArrayList<>();
    for (Map.Entry<String, String> e : parameters.getStringMap(MATCH_LABELS).entrySet()) {
      parsed.add(new Requirement(e.getKey(), Operator.IN, Set.of(e.getValue())));
    }
    List<Parameters> expressions = parameters.getParametersList(MATCH_EXPRESSIONS);
    for (Parameters expression : expressions) {
      parsed.add(expression(expression));
    }
    if (parsed.isEmpty()) {
      throw new PluginConfigException(
          "the label selector is empty, so it would keep every endpoint; set matchLabels or matchExpressions");
    }
    this.requirements = parsed.toArray(new Requirement[0]);
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public void filter(RequestContext context, Candidates candidates, BitSet keep) {
    for (int i = 0, n = candidates.size(); i < n; i++) {
      if (!matches(candidates.endpoint(i).labels())) {
        keep.clear(i);
      }
    }
  }

  private boolean matches(Map<String, String> labels) {
    for (Requirement requirement : requirements) {
      if (!requirement.matches(labels)) {
        return false;
      }
    }
    return true;
  }

  private static Requirement expression(Parameters expression) {
    String key = expression.getString("key", "");
    if (key.isEmpty()) {
      throw expression.invalid("key", "is required");
    }
    String operatorName = expression.getString("operator", "");
    Operator operator = Operator.named(operatorName);
    if (operator == null) {
      throw expression.invalid("operator",
          "must be one of In, NotIn, Exists, DoesNotExist, got \"" + operatorName + "\"");
    }
    List<String> values = expression.getStringList("values", List.of());
    boolean needsValues = operator == Operator.IN || operator == Operator.NOT_IN;
    if (needsValues == values.isEmpty()) {
      throw expression.invalid("values",
          "must be " + (needsValues ? "non-empty" : "empty") + " for operator " + operatorName);
    }
    return new Requirement(key, operator, Set.copyOf(values));
  }

  private enum Operator {
    IN("In"),
    NOT_IN("NotIn"),
    EXISTS("Exists"),
    DOES_NOT_EXIST("DoesNotExist");

    private final String wireName;

    Operator(String wireName) {
      this.wireName = wireName;
    }

    static Operator named(String name) {
      for (Operator operator : values()) {
        if (operator.wireName.equals(name)) {
          return operator;
        }
      }
      return null;
    }
  }

  private record Requirement(String key, Operator operator, Set<String> values) {
    boolean matches(Map<String, String> labels) {
      String value = labels.get(key);
      return switch (operator) {
        case IN -> value != null && values.contains(value);
        case NOT_IN -> value == null || !values.contains(value);
        case EXISTS -> value != null;
        case DOES_NOT_EXIST -> value == null;
      };
    }
  }

  /** Creates {@link LabelSelectorFilter}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public LabelSelectorFilter create(PluginSpec spec, PluginHandle handle) {
      return new LabelSelectorFilter(spec.name(), spec.parameters());
    }
  }
}
