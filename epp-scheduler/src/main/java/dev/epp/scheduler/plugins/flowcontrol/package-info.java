/**
 * Flow-control policies (llm-d's types): fairness between the flows of a band, {@code global-strict-fairness-policy}
 * (default) and {@code round-robin-fairness-policy}; ordering inside a flow, {@code fcfs-ordering-policy} (default),
 * {@code edf-ordering-policy} and {@code slo-deadline-ordering-policy}; and the usage limit per band,
 * {@code static-usage-limit-policy}. Used by {@link dev.epp.scheduler.flowcontrol.FlowController}.
 */
package dev.epp.scheduler.plugins.flowcontrol;
