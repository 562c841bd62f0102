package dev.epp.api.requestcontrol;

import dev.epp.api.RequestBody;
import java.util.Objects;

/**
 * What a {@link RequestParser} read from a request body.
 *
 * @param model the body's {@code model}, or empty when the payload has none the parser understands
 * @param body the parsed body
 */
public record ParsedRequest(String model, RequestBody body) {

  /** Validates the components. */
  public ParsedRequest {
    Objects.requireNonNull(model, "model");
    Objects.requireNonNull(body, "body");
  }
}
