/**
 * Filters that select endpoints by what the endpoint or request says: types {@code label-selector-filter} (a
 * Kubernetes label selector over endpoint labels, from llm-d), its deprecated predecessor {@code by-label} (one
 * label's allowed values) and {@code header-based-testing-filter} (endpoints named in a request header, for
 * conformance tests).
 *
 * <p>Filters allocate nothing per candidate.
 */
package dev.epp.scheduler.plugins.filter;
