package dev.epp.api;

import java.util.Objects;

/**
 * What a request parser understood of a request body.
 *
 * @param api which API the body belongs to
 * @param stream whether the client asked for a streamed (SSE) response
 * @param cacheSalt the body's {@code cache_salt}, or empty
 * @param prompt the user input as text, used for prefix-cache affinity: the completion prompt (array prompts joined
 *     by a space), or the JSON of the chat {@code messages}, responses input, conversation items or embeddings input,
 *     or the text of an Anthropic messages request, or four characters per token of pre-tokenized input; empty when
 *     the parser does not understand the payload
 */
public record RequestBody(Api api, boolean stream, String cacheSalt, String prompt) {

  private static final RequestBody OPAQUE = new RequestBody(Api.OPAQUE, false, "", "");

  /** Validates the components. */
  public RequestBody {
    Objects.requireNonNull(api, "api");
    Objects.requireNonNull(cacheSalt, "cacheSalt");
    Objects.requireNonNull(prompt, "prompt");
  }

  /** A body the parser does not interpret (e.g. the passthrough parser). */
  public static RequestBody opaque() {
    return OPAQUE;
  }

  /** A non-streaming completions body with the given prompt. */
  public static RequestBody completion(String prompt) {
    return new RequestBody(Api.COMPLETIONS, false, "", prompt);
  }

  /** The API a request body belongs to, chosen by the request path. */
  public enum Api {
    /** {@code /v1/completions}. */
    COMPLETIONS,
    /** {@code /v1/chat/completions}. */
    CHAT_COMPLETIONS,
    /** {@code /v1/responses}. */
    RESPONSES,
    /** {@code /v1/conversations}. */
    CONVERSATIONS,
    /** {@code /v1/embeddings}. */
    EMBEDDINGS,
    /** The Anthropic Messages API, {@code /v1/messages}. */
    MESSAGES,
    /** vLLM's pre-tokenized {@code /inference/v1/generate}. */
    GENERATE,
    /** A payload the parser does not interpret. */
    OPAQUE
  }
}
