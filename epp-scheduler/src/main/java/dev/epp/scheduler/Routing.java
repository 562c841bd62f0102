package dev.epp.scheduler;

import dev.epp.api.Endpoint;
import dev.epp.api.RequestContext;
import dev.epp.api.requestcontrol.InferenceResponse;
import dev.epp.api.requestcontrol.RequestParser;
import dev.epp.api.requestcontrol.UpstreamHeaders;
import dev.epp.api.scheduling.SchedulingResult;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The {@link Director}'s decision for one request, and the state of its response as it streams back.
 *
 * <p><b>Threading:</b> confined to one request, like its {@link RequestContext}.
 */
public final class Routing {

  private static final byte[] EMPTY = {};

  private final RequestContext context;
  private final RequestParser parser;
  private final SchedulingResult result;
  private final List<Endpoint> targets;
  private byte[] body;
  private final boolean bodyChanged;
  private InferenceResponse response;
  private final long receivedNanos;
  private final Explanation explanation;
  private boolean streaming;
  private boolean started;
  private boolean completed;
  private boolean finished;
  private long responseBytes;
  private long outputTokens;
  private boolean sawChunk;
  private long firstChunkNanos;
  private long lastChunkNanos;

  Routing(RequestContext context, RequestParser parser, SchedulingResult result, List<Endpoint> targets, byte[] body,
      boolean bodyChanged, long receivedNanos, Explanation explanation) {
    this.context = context;
    this.parser = parser;
    this.result = result;
    this.targets = List.copyOf(targets);
    this.body = body;
    this.bodyChanged = bodyChanged;
    this.receivedNanos = receivedNanos;
    this.explanation = explanation;
  }

  /** The request and its per-request state. */
  public RequestContext context() {
    return context;
  }

  /** The parser the request's path selected; {@code null} for header-only requests, which are not parsed. */
  RequestParser parser() {
    return parser;
  }

  /** The scheduling result; empty for header-only requests, which go to a random endpoint unscheduled. */
  public Optional<SchedulingResult> result() {
    return Optional.ofNullable(result);
  }

  /** Why the scheduler chose the targets; empty unless the request was explained. */
  public Optional<Explanation> explanation() {
    return Optional.ofNullable(explanation);
  }

  /** The endpoints to try in order: the primary, then fallbacks. Never empty. */
  public List<Endpoint> targets() {
    return targets;
  }

  /** {@code ip:port[,ip:port...]} of the targets, the value of {@code x-gateway-destination-endpoint}. */
  public String destination() {
    StringBuilder sb = new StringBuilder();
    for (Endpoint target : targets) {
      if (sb.length() > 0) {
        sb.append(',');
      }
      sb.append(target.hostPort());
    }
    return sb.toString();
  }

  /**
   * Headers to set on the forwarded request, replacing the client's of the same name: those the pre-request hooks
   * added with {@link UpstreamHeaders}, by lower-case name; empty if none.
   */
  public Map<String, String> upstreamHeaders() {
    return UpstreamHeaders.of(context);
  }

  /**
   * The body to forward upstream: the client's, or re-serialised with the rewritten model; empty after
   * {@link #releaseBody()}. Do not modify.
   */
  public byte[] body() {
    return body;
  }

  /**
   * Drops this routing's reference to the body, once the gateway has sent it upstream, so that a request in flight
   * does not hold it; {@link #body()} is empty afterwards. {@link #bodyChanged()} keeps its value.
   */
  public void releaseBody() {
    body = EMPTY;
  }

  /**
   * Whether {@link #body()} differs from the client's body (so its length changed): exactly when the model was
   * rewritten.
   */
  public boolean bodyChanged() {
    return bodyChanged;
  }

  /** Whether the response is a server-sent-event stream; known once the response headers arrived. */
  public boolean streaming() {
    return streaming;
  }

  /** The response, once its headers arrived. */
  public Optional<InferenceResponse> response() {
    return Optional.ofNullable(response);
  }

  void response(InferenceResponse response, boolean streaming) {
    this.response = response;
    this.streaming = streaming;
  }

  long receivedNanos() {
    return receivedNanos;
  }

  /** Notes that a response body chunk arrived at {@code nanos}. */
  void chunkArrived(long nanos) {
    if (!sawChunk) {
      sawChunk = true;
      firstChunkNanos = nanos;
    }
    lastChunkNanos = nanos;
  }

  /** Whether a response body chunk arrived. */
  boolean sawChunk() {
    return sawChunk;
  }

  /** When the response's first body chunk arrived; meaningful once {@link #sawChunk()}. */
  long firstChunkNanos() {
    return firstChunkNanos;
  }

  /** When the response's last body chunk so far arrived; meaningful once {@link #sawChunk()}. */
  long lastChunkNanos() {
    return lastChunkNanos;
  }

  /** Counts the request as running, until {@link #finish()}. */
  void start() {
    started = true;
  }

  boolean started() {
    return started;
  }

  boolean completed() {
    return completed;
  }

  void complete() {
    this.completed = true;
  }

  /** Marks the request finished; whether it was not already. */
  boolean finish() {
    boolean first = !finished;
    finished = true;
    return first;
  }

  void responseBytes(long bytes) {
    responseBytes += bytes;
  }

  long responseBytes() {
    return responseBytes;
  }

  /** Keeps the largest completion token count reported (streams may report running totals). */
  void outputTokens(long tokens) {
    outputTokens = Math.max(outputTokens, tokens);
  }

  long outputTokens() {
    return outputTokens;
  }
}
