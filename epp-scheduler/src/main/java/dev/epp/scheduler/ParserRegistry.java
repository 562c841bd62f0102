package dev.epp.scheduler;

import dev.epp.api.InferenceException;
import dev.epp.api.InferenceException.Code;
import dev.epp.api.requestcontrol.RequestParser;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Picks each request's parser by its path, as llm-d does. The parsers are registered in configuration order: a
 * parser of a type already registered is skipped, and registration stops at the first parser claiming no
 * {@linkplain RequestParser#paths() paths}, the fallback (each skip is logged as a warning). A request path selects the
 * parser with the longest claimed suffix it ends with (the first registered on a tie), else the fallback; with no
 * fallback, an unclaimed path is a bad request.
 *
 * <p><b>Threading:</b> immutable; {@link #resolve} allocates nothing unless it fails.
 */
final class ParserRegistry {

  private static final Logger log = LoggerFactory.getLogger(ParserRegistry.class);

  /** The path a request without a path header has, as in llm-d. */
  static final String DEFAULT_PATH = "/v1/completions";

  private final List<RequestParser> parsers;
  /** Claimed suffixes without leading and trailing {@code /}, longest first; {@link #owners} holds their parsers. */
  private final String[] suffixes;
  private final RequestParser[] owners;
  private final RequestParser fallback;

  ParserRegistry(List<RequestParser> configured) {
    List<RequestParser> active = new ArrayList<>();
    List<Claim> claims = new ArrayList<>();
    Set<String> types = new HashSet<>();
    RequestParser fallback = null;
    for (int i = 0; i < configured.size() && fallback == null; i++) {
      RequestParser parser = configured.get(i);
      if (!types.add(parser.typedName().type())) {
        log.warn("parser '{}' skipped: a parser of type {} is already configured", parser.typedName().name(),
            parser.typedName().type());
        continue;
      }
      active.add(parser);
      if (parser.paths().isEmpty()) {
        fallback = parser;
        for (RequestParser skipped : configured.subList(i + 1, configured.size())) {
          log.warn("parser '{}' skipped: it is configured after the fallback parser '{}', which claims no paths",
              skipped.typedName().name(), parser.typedName().name());
        }
      }
      for (String path : parser.paths()) {
        String suffix = trimSlashes(path.strip());
        if (!suffix.isEmpty()) {
          claims.add(new Claim(suffix, parser));
        }
      }
    }
    claims.sort(Comparator.comparingInt((Claim claim) -> claim.suffix().length()).reversed());
    this.parsers = List.copyOf(active);
    this.suffixes = claims.stream().map(Claim::suffix).toArray(String[]::new);
    this.owners = claims.stream().map(Claim::parser).toArray(RequestParser[]::new);
    this.fallback = fallback;
  }

  /** The parsers in use, in configuration order: the configured ones that were not skipped. */
  List<RequestParser> parsers() {
    return parsers;
  }

  /**
   * The parser of a request: by its path ({@code :path}, else {@code x-original-path}, else
   * {@code x-forwarded-path}, else {@value #DEFAULT_PATH}; query string ignored).
   *
   * @param headers request headers with lower-case names
   * @throws InferenceException {@code BAD_REQUEST} if no parser claims the path and none is a fallback
   */
  RequestParser resolve(Map<String, String> headers) {
    String path = path(headers);
    int query = path.indexOf('?');
    int end = query >= 0 ? query : path.length();
    while (end > 0 && Character.isWhitespace(path.charAt(end - 1))) {
      end--;
    }
    if (end > 0 && path.charAt(end - 1) == '/') {
      end--;
    }
    for (int i = 0; i < suffixes.length; i++) {
      String suffix = suffixes[i];
      int start = end - suffix.length();
      if (start >= 0 && path.regionMatches(start, suffix, 0, suffix.length())) {
        return owners[i];
      }
    }
    if (fallback != null) {
      return fallback;
    }
    throw new InferenceException(Code.BAD_REQUEST,
        "no parser registered matching path suffix for: " + (query >= 0 ? path.substring(0, query) : path));
  }

  private static String path(Map<String, String> headers) {
    String path = headers.get(":path");
    if (path == null || path.isEmpty()) {
      path = headers.get("x-original-path");
    }
    if (path == null || path.isEmpty()) {
      path = headers.get("x-forwarded-path");
    }
    return path == null || path.isEmpty() ? DEFAULT_PATH : path;
  }

  private static String trimSlashes(String path) {
    int start = 0;
    int end = path.length();
    while (start < end && path.charAt(start) == '/') {
      start++;
    }
    while (end > start && path.charAt(end - 1) == '/') {
      end--;
    }
    return path.substring(start, end);
  }

  private record Claim(String suffix, RequestParser parser) {}
}
