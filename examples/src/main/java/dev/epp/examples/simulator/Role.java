package dev.epp.examples.simulator;

import java.util.Locale;

/**
 * What a simulated pod does in prefill/decode disaggregation, reported to the EPP as the endpoint label
 * {@value #LABEL} (llm-d's convention, read by its {@code prefill-filter} and {@code decode-filter}).
 *
 * <p>Every role serves ordinary requests alone. Decode and both-role pods also act as llm-d's routing sidecar: a
 * request with the header {@code x-prefiller-host-port} is prefilled there first (see {@link SimulatorServer}).
 * Prefill pods have no sidecar and ignore that header.
 */
enum Role {
  PREFILL("prefill"),
  DECODE("decode"),
  /** Prefill and decode: labelled {@code prefill-decode}, llm-d's name for what it deprecated as {@code both}. */
  BOTH("prefill-decode");

  /** The endpoint label carrying the role. */
  static final String LABEL = "llm-d.ai/role";

  private final String labelValue;

  Role(String labelValue) {
    this.labelValue = labelValue;
  }

  /** The value of its {@value #LABEL} label. */
  String labelValue() {
    return labelValue;
  }

  /** {@value #LABEL}{@code =<value>}, as in an endpoints file. */
  String label() {
    return LABEL + "=" + labelValue;
  }

  /** Whether the pod pulls its prefill from the pod named in {@code x-prefiller-host-port}. */
  boolean pullsRemotePrefill() {
    return this != PREFILL;
  }

  /** The role of a {@code --role} value: {@code prefill}, {@code decode} or {@code both}. */
  static Role parse(String flag) {
    return valueOf(flag.toUpperCase(Locale.ROOT));
  }
}
