package dev.epp.kvcache.events;

/** A KV-event message that is not what vLLM publishes; the message is dropped. */
final class KvEventDecodeException extends Exception {
  private static final long serialVersionUID = 1L;

  KvEventDecodeException(String message) {
    super(message, null, false, false);
  }
}
