package dev.epp.api;

/**
 * Creates plugins of one type from configuration. This is the {@link java.util.ServiceLoader} SPI: register an
 * implementation in {@code META-INF/services/dev.epp.api.PluginFactory} (and with {@code provides} in a
 * {@code module-info}). Implementations must be public with a public no-argument constructor.
 *
 * <p>Parameters are parsed strictly: every key a plugin does not read through {@link Parameters} is reported as a
 * configuration error naming the plugin and the key, so factories need no unknown-key checks of their own.
 *
 * <p><b>Threading:</b> {@link #create} is called on configuration load, never on the request path.
 */
public interface PluginFactory {

  /**
   * The plugin type this factory creates: lower-case kebab-case such as {@code queue-scorer}, unique across the
   * registry. A duplicate type is a registry error, never a silent override.
   */
  String type();

  /**
   * Creates a plugin instance.
   *
   * @param spec the instance name and its parameters
   * @param handle access to the framework and to plugins created earlier in the same configuration
   * @return the plugin, whose {@link Plugin#typedName()} must equal {@code spec.typedName()}
   * @throws PluginConfigException if the parameters are invalid
   */
  Plugin create(PluginSpec spec, PluginHandle handle);

  /**
   * Whether the type is experimental (llm-d's Alpha stability level): a configuration that names it is refused unless
   * the loader allows experimental plugins (the server's {@code --allow-experimental-plugins}). Default {@code false}.
   */
  default boolean experimental() {
    return false;
  }
}
