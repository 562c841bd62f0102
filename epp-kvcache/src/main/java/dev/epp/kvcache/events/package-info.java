/**
 * KV-cache events as model servers publish them: {@link dev.epp.kvcache.events.KvEvent}, decoded from vLLM's ZeroMQ
 * messages and handed to a {@link dev.epp.kvcache.events.KvEventSink}.
 */
package dev.epp.kvcache.events;
