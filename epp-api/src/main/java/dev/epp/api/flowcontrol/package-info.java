/**
 * Flow-control policy SPI: how a flow controller that holds requests while the pool is saturated chooses what to
 * dispatch next. Three tiers, as in llm-d: strict priority between bands (built in), a {@link
 * dev.epp.api.flowcontrol.FairnessPolicy} between the flows (tenants) of a band, an {@link
 * dev.epp.api.flowcontrol.OrderingPolicy} inside a flow; a {@link dev.epp.api.flowcontrol.UsageLimitPolicy} sets the
 * saturation ceiling up to which each band may dispatch.
 *
 * <p>The controller calls every policy while holding its dispatch lock, from one thread at a time; policies must be
 * fast and non-blocking, must not throw and must not call back into the controller (a fairness or usage-limit policy
 * that throws is logged and nothing is dispatched in that cycle).
 */
package dev.epp.api.flowcontrol;
