package dev.epp.scheduler.plugins.disagg;

import dev.epp.api.Endpoint;
import dev.epp.api.Parameters;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.TypedName;
import dev.epp.scheduler.plugins.load.InFlightLoadProducer;
import dev.epp.scheduler.plugins.prefix.PrefixMatch;

/**
 * Approves prefill/decode disaggregation when the part of the prompt the decode endpoint has not cached is long
 * enough to be worth a separate prefill, as llm-d's {@code prefix-based-pd-decider}.
 *
 * <p>The prompt's tokens are estimated as llm-d's {@code estimate} tokenizer does (UTF-8 bytes / 4, see
 * {@link InFlightLoadProducer#promptTokens}); the cached tokens are the decode endpoint's matched blocks × block size
 * from the {@link PrefixMatch} of the {@code approx-prefix-cache-producer} ({@link PrefixMatch#KEY}). It approves when
 * {@code promptTokens − cachedTokens ≥ nonCachedTokens}; never when {@code nonCachedTokens} is 0, when the prompt is
 * shorter than {@code promptTokens} or {@code nonCachedTokens}, or when there is no prefix match (no producer).
 *
 * <p>Parameters: {@code nonCachedTokens} (default 0 = never disaggregate), {@code promptTokens} (minimum prompt
 * length, default 0 = no minimum); neither may be negative.
 */
public final class PrefixBasedPdDecider implements Decider {

  /** The plugin type. */
  public static final String TYPE = "prefix-based-pd-decider";

  private final TypedName typedName;
  private final int nonCachedTokens;
  private final int promptTokens;

  /**
   * A decider named {@code name}.
   *
   * @throws dev.epp.api.PluginConfigException if a parameter is negative
   */
  public PrefixBasedPdDecider(String name, Parameters parameters) {
    this.typedName = new TypedName(TYPE, name);
    this.nonCachedTokens = parameters.getInt("nonCachedTokens", 0);
    this.promptTokens = parameters.getInt("promptTokens", 0);
    if (nonCachedTokens < 0) {
      throw parameters.invalid("nonCachedTokens", "must not be negative, got " + nonCachedTokens);
    }
    if (promptTokens < 0) {
      throw parameters.invalid("promptTokens", "must not be negative, got " + promptTokens);
    }
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public boolean disaggregate(RequestContext context, Endpoint decode) {
    if (nonCachedTokens == 0 || decode == null) {
      return false;
    }
    long prompt = InFlightLoadProducer.promptTokens(context.request().body().prompt());
    if (prompt < promptTokens || prompt < nonCachedTokens) {
      return false;
    }
    PrefixMatch match = context.get(PrefixMatch.KEY);
    if (match == null) {
      return false;
    }
    long cached = (long) match.matchedBlocks(decode) * match.blockSizeTokens();
    return prompt - cached >= nonCachedTokens;
  }

  /** Creates {@link PrefixBasedPdDecider}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public PrefixBasedPdDecider create(PluginSpec spec, PluginHandle handle) {
      return new PrefixBasedPdDecider(spec.name(), spec.parameters());
    }
  }
}
