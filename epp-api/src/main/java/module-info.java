/**
 * The Endpoint Picker's plugin SPI and immutable value types.
 *
 * <p>Gateways and plugin authors depend on this module only. It has no runtime dependencies. The module that loads
 * plugins ({@code dev.epp.scheduler}) declares {@code uses dev.epp.api.PluginFactory}; plugin modules declare
 * {@code provides}.
 */
module dev.epp.api {
  exports dev.epp.api;
  exports dev.epp.api.scheduling;
  exports dev.epp.api.requestcontrol;
  exports dev.epp.api.flowcontrol;
}
