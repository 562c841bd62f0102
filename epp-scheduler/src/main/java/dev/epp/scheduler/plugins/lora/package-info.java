/**
 * LoRA adapter affinity: type {@code lora-affinity-scorer}, preferring endpoints that have, or can load, the
 * request's adapter.
 *
 * <p>Scoring allocates nothing per candidate.
 */
package dev.epp.scheduler.plugins.lora;
