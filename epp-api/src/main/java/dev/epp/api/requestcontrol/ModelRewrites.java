package dev.epp.api.requestcontrol;

/**
 * Model-name rewrite rules (Kubernetes {@code InferenceModelRewrite}s): the model a request for a given model is
 * served with. A matching rule overrides the {@code x-gateway-model-name-rewrite} header, as in the Go EPP.
 *
 * <p><b>Threading:</b> implementations are thread-safe and non-blocking; a rule with several weighted targets may
 * choose among them at random on each call.
 */
@FunctionalInterface
public interface ModelRewrites {

  /**
   * The model to serve a request for {@code model} with.
   *
   * @return the rewritten model, or {@code null} when no rule matches
   */
  String rewrite(String model);

  /** No rules. */
  static ModelRewrites none() {
    return model -> null;
  }
}
