package dev.epp.scheduler.plugins.prefix;

import dev.epp.api.Plugin;
import dev.epp.api.StateKey;

/**
 * A plugin that stores a {@link PrefixMatch} per request, under {@link PrefixMatch#KEY} and its own
 * {@link #matchKey()}: {@link ApproxPrefixCacheProducer}, or a producer that knows what endpoints hold (e.g.
 * {@code precise-prefix-cache-producer}). Consumers name one with {@value PrefixMatch#PRODUCER_NAME}.
 */
public interface PrefixMatchProducer extends Plugin {

  /** Where this producer, and no other, stores its {@link PrefixMatch}; see {@link PrefixMatch#key}. */
  StateKey<PrefixMatch> matchKey();
}
