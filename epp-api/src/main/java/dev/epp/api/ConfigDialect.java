package dev.epp.api;

/**
 * Which EPP's parameter defaults a configuration gets where llm-d's router and the GIE v1.5 EPP differ: a
 * configuration behaves as under the EPP its {@code apiVersion} names. Only defaults differ; a parameter given
 * explicitly means the same under both.
 */
public enum ConfigDialect {

  /** {@code llm-d.ai/v1alpha1}, the primary form: llm-d router's defaults. */
  LLM_D,

  /** {@code inference.networking.x-k8s.io/v1alpha1}: the GIE v1.5 EPP's defaults. */
  GIE
}
