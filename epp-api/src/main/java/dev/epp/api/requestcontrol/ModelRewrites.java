package dev.epp.api.requestcontrol;

import java.util.Objects;

/**
 * Model-name rewrite rules (Kubernetes {@code InferenceModelRewrite}s): the model a request for a given model is
 * served with, and the rule that chose it. A matching rule overrides the {@code x-llm-d-model-name-rewrite} (or
 * {@code x-gateway-model-name-rewrite}) header, as in the Go EPP, and each decision is counted in {@code inference_extension_model_rewrite_decisions_total}.
 *
 * <p><b>Threading:</b> implementations are thread-safe and non-blocking; a rule with several weighted targets may
 * choose among them at random on each call.
 */
@FunctionalInterface
public interface ModelRewrites {

  /**
   * A rule's decision.
   *
   * @param rule the rule's name, the {@code model_rewrite_name} label (for Kubernetes, the
   *     {@code InferenceModelRewrite}'s name); may be empty, never null
   * @param targetModel the model to serve the request with; never null
   */
  record Rewrite(String rule, String targetModel) {
    public Rewrite {
      Objects.requireNonNull(rule, "rule");
      Objects.requireNonNull(targetModel, "targetModel");
    }
  }

  /**
   * The rewrite of a request for {@code model}.
   *
   * @return the matching rule's decision, or {@code null} when no rule matches
   */
  Rewrite rewrite(String model);

  /** No rules. */
  static ModelRewrites none() {
    return model -> null;
  }
}
