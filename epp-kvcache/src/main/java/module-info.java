/**
 * Precise prefix-cache routing from model servers' KV-cache events: the events and their ZeroMQ subscribers
 * ({@code dev.epp.kvcache.events}) and the plugins that turn them into prefix matches ({@code dev.epp.kvcache}).
 *
 * <p>msgpack-core declares no module name: the module requires the name derived from its jar file name.
 */
module dev.epp.kvcache {
  requires transitive dev.epp.api;
  requires transitive dev.epp.scheduler;
  requires java.net.http;
  requires org.zeromq.jeromq;
  requires msgpack.core;
  requires com.fasterxml.jackson.databind;
  requires org.slf4j;

  exports dev.epp.kvcache;
  exports dev.epp.kvcache.events;
  exports dev.epp.kvcache.index;

  provides dev.epp.api.PluginFactory with
      dev.epp.kvcache.EndpointNotificationSource.Factory,
      dev.epp.kvcache.PrecisePrefixCacheProducer.Factory,
      dev.epp.kvcache.TokenProducer.Factory,
      dev.epp.kvcache.TokenProducer.LegacyFactory;
}
