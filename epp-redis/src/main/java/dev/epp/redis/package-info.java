/** The {@code redis-prefix-index-sync} plugin: EPP replicas share their approximate prefix index inserts. */
package dev.epp.redis;
