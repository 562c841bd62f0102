/**
 * The scheduler: {@link dev.epp.scheduler.PluginRegistry} finds plugin factories,
 * {@link dev.epp.scheduler.EndpointPickerConfig} loads an {@code EndpointPickerConfig} YAML document into plugin
 * instances and profiles, {@link dev.epp.scheduler.Scheduler} picks endpoints for a request, and
 * {@link dev.epp.scheduler.EndpointPool} holds the endpoints and their latest metrics.
 *
 * <p>Parameters and return values are never {@code null} unless a method says otherwise.
 */
package dev.epp.scheduler;
