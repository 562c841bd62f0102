/**
 * Flow control (llm-d's): {@link dev.epp.scheduler.flowcontrol.FlowController} holds requests while the pool is
 * saturated and dispatches them by strict priority between bands, a fairness policy between the flows of a band and
 * an ordering policy inside a flow, within per-band and global capacity limits and a queue TTL. Configured by
 * {@link dev.epp.scheduler.flowcontrol.FlowControlConfig}; the policies are in
 * {@code dev.epp.scheduler.plugins.flowcontrol}.
 */
package dev.epp.scheduler.flowcontrol;
