/**
 * Prefill/decode (and encode) disaggregation, as llm-d's router does it: the profile handler
 * {@code disagg-profile-handler} ({@link dev.epp.scheduler.plugins.disagg.DisaggProfileHandler}, deprecated alias
 * {@code pd-profile-handler}), the deciders {@code prefix-based-pd-decider}, {@code always-disagg-pd-decider} and
 * {@code always-disagg-multimodal-decider} ({@link dev.epp.scheduler.plugins.disagg.Decider}), the role filters
 * {@code prefill-filter}, {@code decode-filter} and {@code encode-filter}
 * ({@link dev.epp.scheduler.plugins.disagg.RoleFilter}), and the deprecated pre-request plugins
 * {@code disagg-headers-handler} and {@code prefill-header-handler}
 * ({@link dev.epp.scheduler.plugins.disagg.DisaggHeadersHandler}).
 */
package dev.epp.scheduler.plugins.disagg;
