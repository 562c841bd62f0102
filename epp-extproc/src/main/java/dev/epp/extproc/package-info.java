/**
 * The Envoy {@code ext_proc} v3 adapter: {@link dev.epp.extproc.ExtProcService} answers Envoy's
 * {@code ExternalProcessor/Process} streams as the Go EPP does, delegating routing to the scheduler module's
 * {@link dev.epp.scheduler.Director}. The {@code epp-server} module runs a complete EPP process around it.
 *
 * <p>Parameters and return values are never {@code null} unless a method says otherwise.
 */
package dev.epp.extproc;
