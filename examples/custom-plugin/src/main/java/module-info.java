/** An example third-party plugin: {@code prefer-label-scorer}. */
module dev.epp.examples.plugin {
  requires dev.epp.api;

  provides dev.epp.api.PluginFactory with dev.epp.examples.plugin.PreferLabelScorer.Factory;
}
