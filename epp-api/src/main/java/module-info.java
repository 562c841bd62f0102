/**
 * The Endpoint Picker's plugin SPI and immutable value types.
 *
 * <p>Gateways and plugin authors depend on this module only. It has no runtime dependencies.
 */
module dev.epp.api {
  exports dev.epp.api;
  exports dev.epp.api.scheduling;
  exports dev.epp.api.requestcontrol;

  uses dev.epp.api.PluginFactory;
}
