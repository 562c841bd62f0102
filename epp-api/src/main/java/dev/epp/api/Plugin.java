package dev.epp.api;

/**
 * An instantiated plugin. A plugin implements one or more extension points ({@code Filter}, {@code Scorer},
 * {@code Picker}, {@code ProfileHandler}, request-control hooks, {@code SaturationDetector}); the framework slots it
 * into every extension point it implements.
 *
 * <p><b>Threading:</b> plugins are shared by all requests; every extension-point method must be thread-safe,
 * non-blocking and free of I/O.
 */
public interface Plugin {

  /** The plugin's type (as registered by its factory) and instance name (unique within one configuration). */
  TypedName typedName();
}
