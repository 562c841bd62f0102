package dev.epp.scheduler;

/**
 * An {@code EndpointPickerConfig} document is invalid. The message names the source, the line and column where
 * known, the path of the offending key (e.g. {@code plugins[1].parameters.foo}) and what is wrong.
 */
public final class ConfigException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  ConfigException(String message) {
    super(message);
  }
}
