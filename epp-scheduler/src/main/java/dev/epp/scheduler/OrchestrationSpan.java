package dev.epp.scheduler;

import dev.epp.api.InferenceException;
import dev.epp.api.InferenceRequest;
import dev.epp.api.RequestContext;
import dev.epp.api.requestcontrol.UpstreamHeaders;
import dev.epp.api.scheduling.SchedulingResult;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;

/**
 * The {@link Director}'s {@code gateway.request_orchestration} span (GIE's name): from the request's arrival through
 * flow control, admission and scheduling. Attribute names follow GIE ({@code target_model}, {@code request_prio}) and
 * llm-d ({@code gen_ai.request.*}, {@code llm_d.epp.*}).
 */
final class OrchestrationSpan {

  /** The span's name. */
  static final String NAME = "gateway.request_orchestration";
  static final AttributeKey<String> REQUEST_ID = AttributeKey.stringKey("gen_ai.request.id");
  static final AttributeKey<String> MODEL = AttributeKey.stringKey("gen_ai.request.model");
  static final AttributeKey<String> TARGET_MODEL = AttributeKey.stringKey("target_model");
  static final AttributeKey<Long> PRIORITY = AttributeKey.longKey("request_prio");
  static final AttributeKey<List<String>> ENDPOINTS = AttributeKey.stringArrayKey("llm_d.epp.endpoints");
  static final AttributeKey<String> PRIMARY_PROFILE = AttributeKey.stringKey("llm_d.epp.primary_profile");
  static final AttributeKey<List<String>> PROFILES = AttributeKey.stringArrayKey("llm_d.epp.profiles");
  static final AttributeKey<String> EVENT_PROFILE = AttributeKey.stringKey("llm_d.epp.profile");
  static final AttributeKey<String> EVENT_PLUGIN = AttributeKey.stringKey("llm_d.epp.plugin");
  static final AttributeKey<Long> EVENT_NANOS = AttributeKey.longKey("llm_d.epp.duration_ns");
  static final AttributeKey<Long> EVENT_REMOVED = AttributeKey.longKey("llm_d.epp.removed");
  static final AttributeKey<List<String>> EVENT_PICKED = AttributeKey.stringArrayKey("llm_d.epp.picked");
  static final AttributeKey<String> ERROR_CODE = AttributeKey.stringKey("error.type");

  private static final TextMapGetter<Map<String, String>> HEADERS =
      (carrier, key) -> carrier == null ? null : carrier.get(key);

  private OrchestrationSpan() {}

  /**
   * Starts the span: a child of the current context's span if valid (a gateway's own span), else of the request's
   * {@code traceparent}/{@code tracestate} headers, else a root.
   */
  static Span start(Tracer tracer, Map<String, String> headers) {
    Context parent = Context.current();
    if (!Span.fromContext(parent).getSpanContext().isValid()) {
      parent = W3CTraceContextPropagator.getInstance().extract(parent, headers, HEADERS);
    }
    return tracer.spanBuilder(NAME).setSpanKind(SpanKind.SERVER).setParent(parent).startSpan();
  }

  /**
   * Records the scheduled request on the span (request, chosen endpoints and profiles, one event per plugin call of
   * the {@code explanation} if any) and sets the span's {@code traceparent} as an upstream header, so the model
   * server continues the trace.
   */
  static void scheduled(Span span, RequestContext context, SchedulingResult result, Explanation explanation) {
    W3CTraceContextPropagator.getInstance().inject(Context.root().with(span), context, UpstreamHeaders::set);
    if (!span.isRecording()) {
      return;
    }
    InferenceRequest request = context.request();
    List<String> endpoints = new ArrayList<>(result.targets().size());
    result.targets().forEach(target -> endpoints.add(target.hostPort()));
    span.setAllAttributes(Attributes.builder()
        .put(REQUEST_ID, request.requestId())
        .put(MODEL, request.incomingModel())
        .put(TARGET_MODEL, request.targetModel())
        .put(PRIORITY, request.priority())
        .put(ENDPOINTS, endpoints)
        .put(PRIMARY_PROFILE, result.primaryProfile())
        .put(PROFILES, List.copyOf(result.profileResults().keySet()))
        .build());
    if (explanation != null) {
      explanation.profiles().forEach(run -> events(span, run));
    }
  }

  private static void events(Span span, Explanation.ProfileRun run) {
    for (Explanation.FilterStep step : run.filters()) {
      span.addEvent("filter", Attributes.of(EVENT_PROFILE, run.profile(), EVENT_PLUGIN, step.filter().toString(),
          EVENT_NANOS, step.nanos(), EVENT_REMOVED, (long) step.removed().size()));
    }
    for (Explanation.ScorerStep step : run.scorers()) {
      span.addEvent("scorer", Attributes.of(EVENT_PROFILE, run.profile(), EVENT_PLUGIN, step.scorer().toString(),
          EVENT_NANOS, step.nanos()));
    }
    Explanation.PickStep pick = run.pick();
    if (pick != null) {
      span.addEvent("picker", Attributes.of(EVENT_PROFILE, run.profile(), EVENT_PLUGIN, pick.picker().toString(),
          EVENT_NANOS, pick.nanos(), EVENT_PICKED, pick.picked()));
    }
  }

  /** Ends the span; with status error and the error's code if the request could not be routed. */
  static void end(Span span, Throwable error) {
    if (error != null) {
      Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
      span.setStatus(StatusCode.ERROR, String.valueOf(cause.getMessage()));
      span.setAttribute(ERROR_CODE, cause instanceof InferenceException e ? e.code().name()
          : cause.getClass().getSimpleName());
    }
    span.end();
  }
}
