package dev.epp.api;

/**
 * A plugin's configuration is invalid: a parameter has the wrong type or value, an unknown key was given, or the
 * plugin cannot work with the rest of the configuration. The message says what is wrong in terms a user can act on;
 * the configuration loader adds where (file, line, plugin).
 */
public class PluginConfigException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  private final String parameter;

  /** An error about the plugin as a whole. */
  public PluginConfigException(String message) {
    this(message, null);
  }

  /**
   * An error about one parameter.
   *
   * @param parameter the offending parameter key (dotted for nested keys), or {@code null}
   */
  public PluginConfigException(String message, String parameter) {
    super(message);
    this.parameter = parameter;
  }

  /** The offending parameter key, or {@code null} when the error is not about one parameter. */
  public String parameter() {
    return parameter;
  }
}
