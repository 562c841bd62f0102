package dev.epp.api;

import java.util.Map;
import java.util.Objects;

/**
 * An inference request as plugins see it, after parsing and model rewrite.
 *
 * @param requestId the {@code x-request-id} (generated when the client sent none)
 * @param incomingModel the {@code model} the client asked for; empty when the parser does not understand the body
 * @param targetModel the model to serve after rewrite; equals {@code incomingModel} when nothing was rewritten
 * @param headers request headers with lower-case names, control headers included; unmodifiable
 * @param body the parsed body
 * @param priority the objective's priority; below 0 means the request may be shed under saturation
 * @param sizeBytes size of the request body in bytes
 */
public record InferenceRequest(
    String requestId,
    String incomingModel,
    String targetModel,
    Map<String, String> headers,
    RequestBody body,
    int priority,
    long sizeBytes) {

  /** Validates and copies the components. */
  public InferenceRequest {
    Objects.requireNonNull(requestId, "requestId");
    Objects.requireNonNull(incomingModel, "incomingModel");
    Objects.requireNonNull(targetModel, "targetModel");
    Objects.requireNonNull(body, "body");
    headers = Map.copyOf(headers);
    if (sizeBytes < 0) {
      throw new IllegalArgumentException("sizeBytes must not be negative");
    }
  }

  /** A builder with an empty request id, models and headers, an opaque body and priority 0. */
  public static Builder builder() {
    return new Builder();
  }

  /** Whether the request may be shed when the pool is saturated (priority below 0). */
  public boolean isSheddable() {
    return priority < 0;
  }

  /** Builds {@link InferenceRequest}s. Not thread-safe. */
  public static final class Builder {
    private String requestId = "";
    private String incomingModel = "";
    private String targetModel;
    private Map<String, String> headers = Map.of();
    private RequestBody body = RequestBody.opaque();
    private int priority;
    private long sizeBytes;

    private Builder() {}

    /** Sets {@link InferenceRequest#requestId()}. */
    public Builder requestId(String value) {
      this.requestId = value;
      return this;
    }

    /** Sets the incoming model; also the target model unless {@link #targetModel} is set. */
    public Builder model(String value) {
      this.incomingModel = value;
      return this;
    }

    /** Sets {@link InferenceRequest#targetModel()}. */
    public Builder targetModel(String value) {
      this.targetModel = value;
      return this;
    }

    /** Sets {@link InferenceRequest#headers()}; names must be lower-case. */
    public Builder headers(Map<String, String> value) {
      this.headers = value;
      return this;
    }

    /** Sets {@link InferenceRequest#body()}. */
    public Builder body(RequestBody value) {
      this.body = value;
      return this;
    }

    /** Sets {@link InferenceRequest#priority()}. */
    public Builder priority(int value) {
      this.priority = value;
      return this;
    }

    /** Sets {@link InferenceRequest#sizeBytes()}. */
    public Builder sizeBytes(long value) {
      this.sizeBytes = value;
      return this;
    }

    /** Builds the request. */
    public InferenceRequest build() {
      return new InferenceRequest(
          requestId,
          incomingModel,
          targetModel == null ? incomingModel : targetModel,
          headers,
          body,
          priority,
          sizeBytes);
    }
  }
}
