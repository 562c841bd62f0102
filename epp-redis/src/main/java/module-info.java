/**
 * Shares the approximate prefix index between EPP replicas through a Redis stream: the
 * {@code redis-prefix-index-sync} plugin ({@code dev.epp.redis}).
 *
 * <p>Jedis declares no module descriptor, only an automatic module name.
 */
module dev.epp.redis {
  requires transitive dev.epp.api;
  requires transitive dev.epp.scheduler;
  requires redis.clients.jedis;
  requires org.slf4j;

  exports dev.epp.redis;

  provides dev.epp.api.PluginFactory with dev.epp.redis.RedisPrefixIndexSync.Factory;
}
