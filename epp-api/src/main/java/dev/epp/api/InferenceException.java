package dev.epp.api;

import java.util.Map;
import java.util.Objects;

/**
 * A request cannot be routed. Carries the Go EPP's error code, which decides the HTTP status the client sees.
 *
 * <p>Thrown on expected paths such as shedding under load, so it records no stack trace.
 */
public class InferenceException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  private final Code code;
  private final Map<String, String> responseHeaders;

  /** An error with the given code and a message for the client. */
  public InferenceException(Code code, String message) {
    this(code, message, Map.of());
  }

  /**
   * An error with the given code, a message for the client and headers for the client's response, such as llm-d's
   * {@code x-llm-d-request-dropped-reason}.
   */
  public InferenceException(Code code, String message, Map<String, String> responseHeaders) {
    super(message, null, false, false);
    this.code = Objects.requireNonNull(code, "code");
    this.responseHeaders = Map.copyOf(responseHeaders);
  }

  /** The error code. */
  public Code code() {
    return code;
  }

  /** Headers to add to the error response the client gets; usually none. */
  public Map<String, String> responseHeaders() {
    return responseHeaders;
  }

  /** Error codes with their Go EPP names and HTTP statuses. */
  public enum Code {
    /** The body is not valid for the API, or has no model. */
    BAD_REQUEST("BadRequest", 400),
    /** Not raised by the core; available to plugins. */
    UNAUTHORIZED("Unauthorized", 401),
    /** Not raised by the core; available to plugins. */
    FORBIDDEN("Forbidden", 403),
    /** Not raised by the core; available to plugins. */
    NOT_FOUND("NotFound", 404),
    /**
     * A precondition the client set does not hold: llm-d's conditional decode ({@code Prefer: if-available}) when
     * the chosen decode endpoint holds none of the prompt's prefix.
     */
    PRECONDITION_FAILED("PreconditionFailed", 412),
    /** The request body is larger than the configured limit. */
    PAYLOAD_TOO_LARGE("PayloadTooLarge", 413),
    /** A sheddable request under saturation, or no endpoint survived scheduling. */
    RESOURCE_EXHAUSTED("ResourceExhausted", 429),
    /** A failure inside the picker, or an admission plugin denied the request. */
    INTERNAL("Internal", 500),
    /** No candidate endpoints (empty pool or empty subset). */
    SERVICE_UNAVAILABLE("ServiceUnavailable", 503);

    private final String wireName;
    private final int httpStatus;

    Code(String wireName, int httpStatus) {
      this.wireName = wireName;
      this.httpStatus = httpStatus;
    }

    /** The code's name as the Go EPP writes it in error bodies, e.g. {@code ResourceExhausted}. */
    public String wireName() {
      return wireName;
    }

    /** The HTTP status a gateway returns for this code. */
    public int httpStatus() {
      return httpStatus;
    }
  }
}
