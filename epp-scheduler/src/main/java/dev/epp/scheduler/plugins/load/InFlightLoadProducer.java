package dev.epp.scheduler.plugins.load;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointStore;
import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.StateKey;
import dev.epp.api.TypedName;
import dev.epp.api.requestcontrol.InferenceResponse;
import dev.epp.api.requestcontrol.PreRequest;
import dev.epp.api.requestcontrol.PrepareData;
import dev.epp.api.requestcontrol.ResponseBody;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.SchedulingResult;
import dev.epp.scheduler.plugins.prefix.PrefixMatch;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Counts each endpoint's in-flight requests and the tokens it has yet to process: llm-d's
 * {@code inflight-load-producer}, read through {@link InFlightLoad}.
 *
 * <p>A request counts from {@link #preRequest} on its primary target until its response ends
 * ({@link #responseBody} with end of stream, which the Director also makes when the exchange is aborted), exactly
 * once. Its tokens are the prompt tokens the target does not hold in its prefix cache (prompt tokens estimated as
 * UTF-8 bytes / 4, rounded up; the cached part taken from the {@link PrefixMatch} of an
 * {@code approx-prefix-cache-producer} when present), plus the estimated output when {@code addEstimatedOutputTokens}.
 * Without estimated output the tokens are released at the first response chunk (prefill is over); with it, at the
 * end of the response. As an {@link EndpointStore.Listener} it forgets the counts of an endpoint that leaves the pool.
 *
 * <p>Parameters (llm-d names and defaults):
 *
 * <ul>
 *   <li>{@code addEstimatedOutputTokens} (boolean, default false): add the estimated output tokens.
 *   <li>{@code outputRatio} (number, default 1.5): estimated output = round(prompt tokens × ratio); at least 0.
 *   <li>{@code maxEstimatedOutputTokens} (integer, default none): caps the estimated output; at least 0.
 * </ul>
 *
 * <p>Differences from llm-d, on purpose: only the primary profile's target is counted (not the first target of every
 * profile), the request's own output limit ({@code max_tokens}) does not cap the estimate, and no per-endpoint gauges
 * are exported.
 *
 * <p><b>Threading:</b> thread-safe; counters are atomics, read without locks.
 */
public final class InFlightLoadProducer
    implements InFlightLoad, PrepareData, PreRequest, ResponseBody, EndpointStore.Listener {

  /** The plugin type, also the default producer name consumers look for. */
  public static final String TYPE = "inflight-load-producer";

  /** The bytes of prompt per estimated token, as llm-d's {@code estimate} tokenizer. */
  static final int BYTES_PER_TOKEN = 4;

  private static final String ADD_ESTIMATED_OUTPUT_TOKENS = "addEstimatedOutputTokens";
  private static final String OUTPUT_RATIO = "outputRatio";
  private static final String MAX_ESTIMATED_OUTPUT_TOKENS = "maxEstimatedOutputTokens";

  private final StateKey<Estimate> estimateKey;
  private final StateKey<Tracked> trackedKey;
  private final TypedName typedName;
  private final boolean addEstimatedOutputTokens;
  private final double outputRatio;
  private final long maxEstimatedOutputTokens;
  private final ConcurrentHashMap<String, Counters> counters = new ConcurrentHashMap<>();

  /**
   * A producer named {@code name} configured by {@code parameters}.
   *
   * @throws PluginConfigException if a parameter is invalid
   */
  public InFlightLoadProducer(String name, Parameters parameters) {
    this.typedName = new TypedName(TYPE, name);
    this.estimateKey = StateKey.of(TYPE + "/" + name + "/estimate", Estimate.class);
    this.trackedKey = StateKey.of(TYPE + "/" + name + "/tracked", Tracked.class);
    this.addEstimatedOutputTokens = parameters.getBoolean(ADD_ESTIMATED_OUTPUT_TOKENS, false);
    this.outputRatio = parameters.getDouble(OUTPUT_RATIO, 1.5);
    if (outputRatio < 0) {
      throw parameters.invalid(OUTPUT_RATIO, "must be at least 0, got " + outputRatio);
    }
    this.maxEstimatedOutputTokens = parameters.getLong(MAX_ESTIMATED_OUTPUT_TOKENS, Long.MAX_VALUE);
    if (maxEstimatedOutputTokens < 0) {
      throw parameters.invalid(MAX_ESTIMATED_OUTPUT_TOKENS, "must be at least 0, got " + maxEstimatedOutputTokens);
    }
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public long requests(Endpoint endpoint) {
    Counters c = counters.get(endpoint.name());
    return c == null ? 0 : c.requests.get();
  }

  @Override
  public long tokens(Endpoint endpoint) {
    Counters c = counters.get(endpoint.name());
    return c == null ? 0 : c.tokens.get();
  }

  @Override
  public long requestTokens(RequestContext context, int position) {
    Estimate estimate = context.get(estimateKey);
    if (estimate == null) {
      return 0;
    }
    return uncachedPromptTokens(estimate.promptTokens, context.get(PrefixMatch.KEY), position)
        + estimate.outputTokens;
  }

  /** Estimates the request's prompt and output tokens and remembers its candidates. */
  @Override
  public void prepareData(RequestContext context, Candidates candidates) {
    long prompt = promptTokens(context.request().body().prompt());
    long output = addEstimatedOutputTokens ? outputTokens(prompt) : 0;
    context.put(estimateKey, new Estimate(prompt, output, candidates));
  }

  /** Counts the request on its primary target. */
  @Override
  public void preRequest(RequestContext context, SchedulingResult result) {
    if (context.get(trackedKey) != null || result.targets().isEmpty()) {
      return;
    }
    Endpoint target = result.targets().get(0);
    Estimate estimate = context.get(estimateKey);
    long tokens = requestTokens(context, estimate == null ? -1 : estimate.position(target));
    Counters c = counters.computeIfAbsent(target.name(), k -> new Counters());
    c.requests.incrementAndGet();
    c.tokens.addAndGet(tokens);
    context.put(trackedKey, new Tracked(c, tokens));
  }

  /** Releases the tokens at the first chunk (without estimated output) and everything at the end, once. */
  @Override
  public void responseBody(RequestContext context, InferenceResponse response) {
    Tracked tracked = context.get(trackedKey);
    if (tracked == null) {
      return;
    }
    if (!addEstimatedOutputTokens || response.endOfStream()) {
      tracked.releaseTokens();
    }
    if (response.endOfStream()) {
      tracked.releaseRequest();
    }
  }

  /** Nothing: counters are created when an endpoint is first routed to. */
  @Override
  public void added(Endpoint endpoint) {}

  /** Forgets {@code endpoint}'s counts; its in-flight requests release into the forgotten counters. */
  @Override
  public void removed(Endpoint endpoint) {
    counters.remove(endpoint.name());
  }

  /** The prompt tokens the candidate at {@code position} must compute, given its prefix-cache match if any. */
  static long uncachedPromptTokens(long promptTokens, PrefixMatch match, int position) {
    if (match == null || match.blockSizeTokens() <= 0) {
      return promptTokens;
    }
    long blockSize = match.blockSizeTokens();
    long indexed = match.totalBlocks() * blockSize;
    long cached = match.matchedBlocks(position) * blockSize;
    return Math.max(0, indexed - cached) + Math.max(0, promptTokens - indexed);
  }

  /** llm-d's byte-packing estimate: UTF-8 bytes / {@value #BYTES_PER_TOKEN}, rounded up. */
  public static long promptTokens(String prompt) {
    long bytes = 0;
    for (int i = 0; i < prompt.length(); i++) {
      char ch = prompt.charAt(i);
      if (ch < 0x80) {
        bytes += 1;
      } else if (ch < 0x800) {
        bytes += 2;
      } else if (Character.isHighSurrogate(ch) && i + 1 < prompt.length()
          && Character.isLowSurrogate(prompt.charAt(i + 1))) {
        bytes += 4;
        i++;
      } else {
        bytes += 3;
      }
    }
    return (bytes + BYTES_PER_TOKEN - 1) / BYTES_PER_TOKEN;
  }

  private long outputTokens(long promptTokens) {
    return Math.min(Math.round(promptTokens * outputRatio), maxEstimatedOutputTokens);
  }

  /** One endpoint's counters. */
  private static final class Counters {
    final AtomicLong requests = new AtomicLong();
    final AtomicLong tokens = new AtomicLong();
  }

  /** What {@link #prepareData} leaves for scorers and {@link #preRequest}. */
  private record Estimate(long promptTokens, long outputTokens, Candidates candidates) {

    /** The position of {@code target} among the candidates, or -1. */
    int position(Endpoint target) {
      for (int i = 0; i < candidates.size(); i++) {
        if (candidates.endpoint(i).name().equals(target.name())) {
          return candidates.position(i);
        }
      }
      return -1;
    }
  }

  /**
   * A routed request's contribution to its target's counters, released once; holds the counters it incremented, so
   * a release after the endpoint left and came back does not touch the new counters.
   */
  private static final class Tracked {
    private final Counters counters;
    private long tokens;
    private boolean requestReleased;

    Tracked(Counters counters, long tokens) {
      this.counters = counters;
      this.tokens = tokens;
    }

    void releaseTokens() {
      if (tokens != 0) {
        counters.tokens.addAndGet(-tokens);
        tokens = 0;
      }
    }

    void releaseRequest() {
      if (!requestReleased) {
        requestReleased = true;
        counters.requests.decrementAndGet();
      }
    }
  }

  /** Creates {@link InFlightLoadProducer}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public InFlightLoadProducer create(PluginSpec spec, PluginHandle handle) {
      return new InFlightLoadProducer(spec.name(), spec.parameters());
    }
  }
}
