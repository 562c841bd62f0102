package dev.epp.api.requestcontrol;

import dev.epp.api.Plugin;
import java.util.List;
import java.util.Map;

/**
 * Understands request and response payloads of one API family, e.g. OpenAI JSON. Each request goes to the configured
 * parser whose {@linkplain #paths() path suffix} is the longest match for its path, else to the configured parser that
 * claims no paths (the fallback), as llm-d selects parsers.
 *
 * <p><b>Threading:</b> called concurrently for different requests; must be thread-safe, non-blocking and free of I/O.
 */
public interface RequestParser extends Plugin {

  /**
   * The request path suffixes this parser handles, e.g. {@code chat/completions}: a request path (query string and
   * one trailing {@code /} removed) ending in one of them selects this parser; leading and trailing {@code /} of a
   * suffix are ignored. Empty (the default): the parser claims no paths and is the fallback for paths no other parser
   * claims. Read once, when a configuration is loaded.
   */
  default List<String> paths() {
    return List.of();
  }

  /**
   * Parses a complete request body.
   *
   * @param body the body bytes; not modified
   * @param headers request headers with lower-case names (e.g. {@code :path} selects the API)
   * @throws dev.epp.api.InferenceException with code {@code BAD_REQUEST} if the body is invalid for its API
   */
  ParsedRequest parseRequest(byte[] body, Map<String, String> headers);

  /**
   * The body with its model replaced by {@code model}, for model-name rewrites.
   *
   * @param body a body {@link #parseRequest} accepted
   * @throws dev.epp.api.InferenceException with code {@code INTERNAL} if the body cannot be rewritten
   */
  byte[] withModel(byte[] body, String model);

  /**
   * Token usage reported in a response chunk: the whole body of a buffered JSON response, or one chunk of a
   * server-sent-event stream.
   *
   * @param eventStream whether the chunk belongs to a {@code text/event-stream} response
   * @return the usage, or {@code null} if the chunk reports none or cannot be parsed
   */
  Usage parseResponse(byte[] chunk, boolean eventStream);
}
