/**
 * The scheduler: plugin registry, {@code EndpointPickerConfig} loader, {@code Scheduler}, {@code Director},
 * {@code EndpointPool} and the built-in plugins, one exported package per feature. {@code dev.epp.scheduler.internal}
 * is not exported.
 *
 * <p>{@code PluginRegistry} loads every {@link dev.epp.api.PluginFactory} the module layer provides; the built-in
 * factories are provided here (and in {@code META-INF/services} for the class path).
 */
module dev.epp.scheduler {
  requires transitive dev.epp.api;
  requires com.dynatrace.hash4j;
  requires com.fasterxml.jackson.core;
  requires com.fasterxml.jackson.databind;
  requires com.fasterxml.jackson.dataformat.yaml;
  requires org.slf4j;
  requires org.yaml.snakeyaml;
  requires transitive io.opentelemetry.api;
  requires transitive io.opentelemetry.context;

  exports dev.epp.scheduler;
  exports dev.epp.scheduler.plugins.disagg;
  exports dev.epp.scheduler.flowcontrol;
  exports dev.epp.scheduler.plugins.filter;
  exports dev.epp.scheduler.plugins.flowcontrol;
  exports dev.epp.scheduler.plugins.label;
  exports dev.epp.scheduler.plugins.load;
  exports dev.epp.scheduler.plugins.lora;
  exports dev.epp.scheduler.plugins.objectives;
  exports dev.epp.scheduler.plugins.parser;
  exports dev.epp.scheduler.plugins.picker;
  exports dev.epp.scheduler.plugins.prefix;
  exports dev.epp.scheduler.plugins.profile;
  exports dev.epp.scheduler.plugins.saturation;
  exports dev.epp.scheduler.plugins.session;

  uses dev.epp.api.PluginFactory;

  provides dev.epp.api.PluginFactory with
      dev.epp.scheduler.plugins.filter.HeaderBasedTestingFilter.Factory,
      dev.epp.scheduler.plugins.filter.LabelSelectorFilter.Factory,
      dev.epp.scheduler.plugins.load.KvCacheUtilizationScorer.Factory,
      dev.epp.scheduler.plugins.load.QueueScorer.Factory,
      dev.epp.scheduler.plugins.load.RunningRequestsSizeScorer.Factory,
      dev.epp.scheduler.plugins.load.InFlightLoadProducer.Factory,
      dev.epp.scheduler.plugins.load.TokenLoadScorer.Factory,
      dev.epp.scheduler.plugins.load.ActiveRequestScorer.Factory,
      dev.epp.scheduler.plugins.load.LoadAwareScorer.Factory,
      dev.epp.scheduler.plugins.saturation.ConcurrencyDetector.Factory,
      dev.epp.scheduler.plugins.lora.LoraAffinityScorer.Factory,
      dev.epp.scheduler.plugins.objectives.StaticObjectives.Factory,
      dev.epp.scheduler.plugins.parser.OpenAiParser.Factory,
      dev.epp.scheduler.plugins.parser.PassthroughParser.Factory,
      dev.epp.scheduler.plugins.parser.AnthropicParser.Factory,
      dev.epp.scheduler.plugins.parser.VllmHttpParser.Factory,
      dev.epp.scheduler.plugins.picker.MaxScorePicker.Factory,
      dev.epp.scheduler.plugins.picker.RandomPicker.Factory,
      dev.epp.scheduler.plugins.picker.WeightedRandomPicker.Factory,
      dev.epp.scheduler.plugins.prefix.ApproxPrefixCacheProducer.Factory,
      dev.epp.scheduler.plugins.prefix.PrefixCacheScorer.Factory,
      dev.epp.scheduler.plugins.prefix.PrefixCacheAffinityFilter.Factory,
      dev.epp.scheduler.plugins.profile.SingleProfileHandler.Factory,
      dev.epp.scheduler.plugins.saturation.UtilizationDetector.Factory,
      dev.epp.scheduler.plugins.session.SessionAffinityFilter.Factory,
      dev.epp.scheduler.plugins.session.SessionAffinityScorer.Factory,
      dev.epp.scheduler.plugins.session.SessionIdProducer.Factory,
      dev.epp.scheduler.plugins.session.AgentIdentity.Factory,
      dev.epp.scheduler.plugins.label.ContextLengthAware.Factory,
      dev.epp.scheduler.plugins.label.HeaderLabelAffinityScorer.Factory,
      dev.epp.scheduler.plugins.prefix.NoHitLruScorer.Factory,
      dev.epp.scheduler.plugins.load.UtilizationFilter.Factory,
      dev.epp.scheduler.plugins.saturation.ProbabilisticAdmitter.Factory,
      dev.epp.scheduler.plugins.filter.ByLabelFilter.Factory,
      dev.epp.scheduler.plugins.disagg.RoleFilter.PrefillFactory,
      dev.epp.scheduler.plugins.disagg.RoleFilter.DecodeFactory,
      dev.epp.scheduler.plugins.disagg.RoleFilter.EncodeFactory,
      dev.epp.scheduler.plugins.disagg.PrefixBasedPdDecider.Factory,
      dev.epp.scheduler.plugins.disagg.AlwaysDisaggPdDecider.Factory,
      dev.epp.scheduler.plugins.disagg.AlwaysDisaggMultimodalDecider.Factory,
      dev.epp.scheduler.plugins.disagg.DisaggProfileHandler.Factory,
      dev.epp.scheduler.plugins.disagg.DisaggProfileHandler.PdFactory,
      dev.epp.scheduler.plugins.disagg.DisaggHeadersHandler.Factory,
      dev.epp.scheduler.plugins.disagg.DisaggHeadersHandler.PrefillHeaderFactory,
      dev.epp.scheduler.plugins.flowcontrol.GlobalStrictFairness.Factory,
      dev.epp.scheduler.plugins.flowcontrol.RoundRobinFairness.Factory,
      dev.epp.scheduler.plugins.flowcontrol.FcfsOrdering.Factory,
      dev.epp.scheduler.plugins.flowcontrol.EdfOrdering.Factory,
      dev.epp.scheduler.plugins.flowcontrol.SloDeadlineOrdering.Factory,
      dev.epp.scheduler.plugins.flowcontrol.StaticUsageLimit.Factory;
}
