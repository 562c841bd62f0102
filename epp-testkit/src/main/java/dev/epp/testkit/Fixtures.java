package dev.epp.testkit;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.InferenceRequest;
import dev.epp.api.PluginHandle;
import dev.epp.api.RequestContext;
import dev.epp.api.Ticker;
import dev.epp.api.scheduling.Candidates;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Endpoints, metrics, candidates, requests and handles for plugin tests. Endpoint {@code i} is named
 * {@code pod-<i>-rank-0} at {@code 192.168.1.<i+1>:8000}; metrics built here were scraped at {@link #NOW}, the
 * time a new {@link FakeTicker} starts at.
 */
public final class Fixtures {

  /** The {@link dev.epp.api.Ticker} time metrics built here were scraped at. */
  public static final long NOW = 1_000_000_000_000L;

  /** The LoRA adapter that {@link #skewed()} spreads across its endpoints and {@link #context()} requests. */
  public static final String ADAPTER = "sql-lora";

  /** {@code maxActiveModels} of metrics built by {@link #metrics}. */
  public static final int MAX_ACTIVE_MODELS = 4;

  private static final List<EndpointMetrics> SKEWED =
      List.of(
          // adapter active, idle
          metrics(0, 0.0, ADAPTER),
          // adapter waiting, no room for more adapters
          metrics(3, 0.5, "a", "b", "c").toBuilder().waitingModels(Set.of(ADAPTER)).runningRequests(7).build(),
          // nearly full cache, adapter capacity unknown
          metrics(10, 0.99).toBuilder().maxActiveModels(0).runningRequests(2).build(),
          // huge queue, full cache, room for an adapter
          metrics(1000, 1.0, "other").toBuilder().maxActiveModels(2).runningRequests(250).build(),
          metrics(7, 0.25, "a", "b", "c", "d").toBuilder().runningRequests(1).build(),
          EndpointMetrics.none());

  private Fixtures() {}

  /** Endpoint {@code i} without labels. */
  public static Endpoint endpoint(int i) {
    return endpoint(i, Map.of());
  }

  /** Endpoint {@code i} with {@code labels}. */
  public static Endpoint endpoint(int i, Map<String, String> labels) {
    return new Endpoint("pod-" + i + "-rank-0", "192.168.1." + (i + 1), 8000, labels);
  }

  /**
   * Metrics scraped at {@link #NOW} with the given queue, KV-cache usage and active adapters,
   * {@link #MAX_ACTIVE_MODELS} and nothing running.
   */
  public static EndpointMetrics metrics(int waitingQueueSize, double kvCacheUsage, String... activeAdapters) {
    return EndpointMetrics.builder()
        .waitingQueueSize(waitingQueueSize)
        .kvCacheUsage(kvCacheUsage)
        .activeModels(Set.of(activeAdapters))
        .maxActiveModels(MAX_ACTIVE_MODELS)
        .updatedNanos(NOW)
        .build();
  }

  /** Candidates {@code 0..metrics.length-1} with the given metrics. */
  public static Candidates candidates(EndpointMetrics... metrics) {
    return candidates(List.of(metrics));
  }

  /** Candidates {@code 0..metrics.size()-1} with the given metrics. */
  public static Candidates candidates(List<EndpointMetrics> metrics) {
    List<Endpoint> endpoints = new ArrayList<>(metrics.size());
    for (int i = 0; i < metrics.size(); i++) {
      endpoints.add(endpoint(i));
    }
    return Candidates.of(endpoints, metrics);
  }

  /**
   * Six candidates with skewed metrics: idle to overloaded queues and caches, varied running requests, the
   * {@link #ADAPTER} active, waiting or absent with and without room to load it, and one endpoint never scraped.
   */
  public static Candidates skewed() {
    return candidates(SKEWED);
  }

  /** {@code n} candidates that were never scraped. */
  public static Candidates unscraped(int n) {
    return candidates(Collections.nCopies(n, EndpointMetrics.none()));
  }

  /**
   * The never-scraped candidates that earlier filters left of a request's candidates, in this order: candidate
   * {@code i} is {@link #endpoint(int) endpoint(positions[i])} at {@link Candidates#position(int) position}
   * {@code positions[i]}. For testing that a plugin reads per-request data by position, not by index.
   */
  public static Candidates survivors(int... positions) {
    int[] copy = positions.clone();
    return new Candidates() {
      @Override
      public int size() {
        return copy.length;
      }

      @Override
      public Endpoint endpoint(int i) {
        return Fixtures.endpoint(copy[i]);
      }

      @Override
      public EndpointMetrics metrics(int i) {
        return EndpointMetrics.none();
      }

      @Override
      public int position(int i) {
        return copy[i];
      }
    };
  }

  /**
   * Candidate sets a plugin should handle: {@link #skewed()}, each of its prefixes from one candidate up, its
   * reverse, three identical candidates and four never-scraped ones. None is empty.
   */
  public static List<Candidates> candidateSets() {
    List<Candidates> sets = new ArrayList<>();
    for (int n = 1; n <= SKEWED.size(); n++) {
      sets.add(candidates(SKEWED.subList(0, n)));
    }
    List<EndpointMetrics> reversed = new ArrayList<>(SKEWED);
    Collections.reverse(reversed);
    sets.add(candidates(reversed));
    sets.add(candidates(Collections.nCopies(3, metrics(2, 0.4, ADAPTER))));
    sets.add(unscraped(4));
    return sets;
  }

  /** A request for the {@link #ADAPTER} without headers. */
  public static RequestContext context() {
    return context(ADAPTER, Map.of());
  }

  /** A request for {@code model} with lower-case {@code headers}. */
  public static RequestContext context(String model, Map<String, String> headers) {
    return new RequestContext(InferenceRequest.builder().requestId("test").model(model).headers(headers).build());
  }

  /** A handle with no other plugins whose ticker is {@code ticker}. */
  public static PluginHandle handle(Ticker ticker) {
    return new PluginHandle() {
      @Override
      public Ticker ticker() {
        return ticker;
      }

      @Override
      public <T> Optional<T> plugin(String name, Class<T> type) {
        return Optional.empty();
      }
    };
  }
}
