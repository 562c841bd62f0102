package dev.epp.scheduler.plugins.prefix;

import dev.epp.api.Endpoint;
import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginHandle;
import dev.epp.api.RequestContext;
import dev.epp.api.StateKey;
import dev.epp.api.scheduling.Candidates;

/**
 * How much of a request's prompt prefix each candidate probably holds in its KV cache, in blocks: what
 * {@link ApproxPrefixCacheProducer} computes before scheduling, {@link PrefixCacheScorer} scores and
 * {@link PrefixCacheAffinityFilter} gates on.
 *
 * <p><b>Threading:</b> immutable.
 */
public final class PrefixMatch {

  /**
   * Where every {@link PrefixMatchProducer} stores its match in the {@link RequestContext} (the last one to run
   * wins); each also stores it under its own {@link PrefixMatchProducer#matchKey()}.
   */
  public static final StateKey<PrefixMatch> KEY = StateKey.of("prefix-match", PrefixMatch.class);

  /** The parameter naming the producer a consumer reads. */
  public static final String PRODUCER_NAME = "prefixMatchInfoProducerName";

  /**
   * The key a consumer reads the match under: that of the {@link PrefixMatchProducer} named by the
   * {@value #PRODUCER_NAME} parameter, declared anywhere under {@code plugins}, or {@link #KEY} when the parameter
   * is absent or empty.
   *
   * @throws PluginConfigException if there is no such producer
   */
  public static StateKey<PrefixMatch> key(Parameters parameters, PluginHandle handle) {
    String name = parameters.getString(PRODUCER_NAME, "");
    if (name.isEmpty()) {
      return KEY;
    }
    return handle.plugin(name, PrefixMatchProducer.class)
        .map(PrefixMatchProducer::matchKey)
        .orElseThrow(() -> parameters.invalid(PRODUCER_NAME, "names no " + ApproxPrefixCacheProducer.TYPE
            + " plugin '" + name + "' (nor other prefix-match producer) under plugins"));
  }

  private final int[] matchedBlocks;
  private final Candidates candidates; // null for a match that knows positions only
  private final int totalBlocks;
  private final int blockSizeTokens;

  private PrefixMatch(int[] matchedBlocks, Candidates candidates, int totalBlocks, int blockSizeTokens) {
    this.matchedBlocks = matchedBlocks;
    this.candidates = candidates;
    this.totalBlocks = totalBlocks;
    this.blockSizeTokens = blockSizeTokens;
  }

  /**
   * A match for a {@link PrefixMatchProducer} over {@code candidates} (kept, not copied: a snapshot); takes ownership
   * of the array.
   *
   * @param matchedBlocks leading blocks held, indexed by {@link Candidates#position(int)}; may be shorter than
   *     {@code candidates} (the rest hold none), e.g. empty when no candidate holds the first block
   * @param candidates the candidates the match was computed for
   * @param totalBlocks the blocks the prompt was split into
   * @param blockSizeTokens tokens per block
   */
  public static PrefixMatch of(int[] matchedBlocks, Candidates candidates, int totalBlocks, int blockSizeTokens) {
    return new PrefixMatch(matchedBlocks, candidates, totalBlocks, blockSizeTokens);
  }

  /** A match that knows positions only, not endpoints. */
  PrefixMatch(int[] matchedBlocks, int totalBlocks, int blockSizeTokens) {
    this(matchedBlocks, null, totalBlocks, blockSizeTokens);
  }

  /** The position of {@code endpoint} (by name) among the candidates the match was computed for, or -1. */
  public int position(Endpoint endpoint) {
    int i = index(endpoint);
    return i < 0 ? -1 : candidates.position(i);
  }

  /** The number of leading prompt blocks {@code endpoint} holds in a row; 0 for an endpoint the producer did not see. */
  public int matchedBlocks(Endpoint endpoint) {
    return matchedBlocks.length == 0 ? 0 : matchedBlocks(position(endpoint));
  }

  /**
   * The index of {@code endpoint} (by name) in the {@link Candidates} this match was built over, or -1 (also for a
   * match that knows positions only).
   */
  int index(Endpoint endpoint) {
    if (candidates != null) {
      for (int i = 0; i < candidates.size(); i++) {
        if (candidates.endpoint(i).name().equals(endpoint.name())) {
          return i;
        }
      }
    }
    return -1;
  }

  /**
   * The number of leading prompt blocks the candidate at {@code position} ({@link Candidates#position(int)}) holds
   * in a row; 0 for a position the producer did not see.
   */
  public int matchedBlocks(int position) {
    return position >= 0 && position < matchedBlocks.length ? matchedBlocks[position] : 0;
  }

  /** The number of blocks the prompt was split into (after truncation); 0 when it was too short to hash. */
  public int totalBlocks() {
    return totalBlocks;
  }

  /** The block size in tokens used for this request (4 characters per token). */
  public int blockSizeTokens() {
    return blockSizeTokens;
  }

  @Override
  public String toString() {
    return "PrefixMatch{totalBlocks=" + totalBlocks + ", blockSizeTokens=" + blockSizeTokens + "}";
  }
}
