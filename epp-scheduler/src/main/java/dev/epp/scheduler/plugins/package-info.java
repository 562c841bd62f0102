/**
 * The built-in plugins, with the types, parameters and formulas of the Go EPP v1.5.0 (plus llm-d's
 * {@code label-selector-filter}). Each plugin class nests the {@link dev.epp.api.PluginFactory} registered for it.
 *
 * <p>Scorers, filters and pickers allocate nothing per candidate.
 */
package dev.epp.scheduler.plugins;
