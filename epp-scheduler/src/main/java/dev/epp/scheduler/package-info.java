/**
 * The scheduler: {@link dev.epp.scheduler.PluginRegistry} finds plugin factories,
 * {@link dev.epp.scheduler.EndpointPickerConfig} loads an {@code EndpointPickerConfig} YAML document into plugin
 * instances and profiles, {@link dev.epp.scheduler.Scheduler} picks endpoints for a request, and
 * {@link dev.epp.scheduler.EndpointPool} holds the endpoints and their latest metrics.
 *
 * <p>The built-in plugins, with the types, parameters and formulas of the Go EPP v1.5.0 (plus llm-d's
 * {@code label-selector-filter}), live in one package per feature under {@code dev.epp.scheduler.plugins}:
 * {@code picker}, {@code load}, {@code prefix}, {@code lora}, {@code parser}, {@code saturation}, {@code filter},
 * {@code profile} and {@code objectives}. Each plugin class nests the {@link dev.epp.api.PluginFactory} registered for
 * it.
 *
 * <p>Parameters and return values are never {@code null} unless a method says otherwise.
 */
package dev.epp.scheduler;
