package dev.epp.api.requestcontrol;

import dev.epp.api.RequestContext;
import dev.epp.api.StateKey;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Headers a {@link PreRequest} plugin asks the gateway to set on the request it forwards to the endpoint, for example
 * llm-d's {@code x-prefiller-host-port} for a decode pod's sidecar. A header set here replaces the client's header of
 * the same name; a gateway sets them after the {@link PreRequest} hooks ran (ext_proc: in the request's header
 * mutation; in-process: from {@code Routing.upstreamHeaders()}).
 *
 * <p><b>Threading:</b> confined to one request, like its {@link RequestContext}.
 */
public final class UpstreamHeaders {

  private static final StateKey<UpstreamHeaders> KEY = StateKey.of("upstream-headers", UpstreamHeaders.class);

  private final Map<String, String> headers = new LinkedHashMap<>(4);

  private UpstreamHeaders() {}

  /** Sets header {@code name} (lower-cased) to {@code value} on the upstream request, replacing an earlier value. */
  public static void set(RequestContext context, String name, String value) {
    UpstreamHeaders upstream = context.get(KEY);
    if (upstream == null) {
      upstream = new UpstreamHeaders();
      context.put(KEY, upstream);
    }
    upstream.headers.put(name.toLowerCase(Locale.ROOT), value);
  }

  /** The headers set for the request so far, by lower-case name, unmodifiable; empty if none. */
  public static Map<String, String> of(RequestContext context) {
    UpstreamHeaders upstream = context.get(KEY);
    return upstream == null ? Map.of() : Collections.unmodifiableMap(upstream.headers);
  }
}
