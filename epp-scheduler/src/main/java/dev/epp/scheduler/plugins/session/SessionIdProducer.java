package dev.epp.scheduler.plugins.session;

import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.StateKey;
import dev.epp.api.TypedName;
import dev.epp.api.requestcontrol.PrepareData;
import dev.epp.api.scheduling.Candidates;
import java.util.Locale;

/**
 * Reads a session id from each request and publishes it for session-aware plugins, which read it with
 * {@link #sessionId(RequestContext)} (a {@code session-affinity-*} source {@code attribute: SessionIDDataKey} with
 * {@code producer} naming this plugin). Parameters, exactly one of: {@code headerName} (a request header, compared
 * case-insensitively) or {@code cookieName} (a cookie of the {@code cookie} request header). The value is trimmed; an
 * absent or blank value publishes nothing, meaning "no session".
 */
public final class SessionIdProducer implements PrepareData {

  /** The plugin type. */
  public static final String TYPE = "session-id-producer";

  /** The attribute name a session-affinity source uses to read what this plugin publishes. */
  public static final String ATTRIBUTE = "SessionIDDataKey";

  private static final String COOKIE_HEADER = "cookie";

  private final TypedName typedName;
  private final StateKey<String> key;
  private final String headerName;
  private final String cookieName;

  private SessionIdProducer(String name, String headerName, String cookieName) {
    this.typedName = new TypedName(TYPE, name);
    this.key = StateKey.of(name + "/" + ATTRIBUTE, String.class);
    this.headerName = headerName;
    this.cookieName = cookieName;
  }

  /** A producer named {@code name} reading the request header {@code headerName}. */
  public static SessionIdProducer fromHeader(String name, String headerName) {
    return new SessionIdProducer(name, headerName.trim().toLowerCase(Locale.ROOT), null);
  }

  /** A producer named {@code name} reading the cookie {@code cookieName}. */
  public static SessionIdProducer fromCookie(String name, String cookieName) {
    return new SessionIdProducer(name, null, cookieName.trim());
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public void prepareData(RequestContext context, Candidates candidates) {
    String raw = headerName != null
        ? context.request().headers().get(headerName)
        : cookie(context.request().headers().get(COOKIE_HEADER), cookieName);
    if (raw != null && !raw.isBlank()) {
      context.put(key, raw.trim());
    }
  }

  /** The session id this plugin published for the request, or {@code null} when the request carries none. */
  public String sessionId(RequestContext context) {
    return context.get(key);
  }

  /** The value of cookie {@code name} in a {@code cookie} header ({@code a=1; b=2}), or {@code null}. */
  static String cookie(String header, String name) {
    if (header == null) {
      return null;
    }
    for (String pair : header.split(";")) {
      int eq = pair.indexOf('=');
      if (eq >= 0 && pair.substring(0, eq).trim().equals(name)) {
        return pair.substring(eq + 1);
      }
    }
    return null;
  }

  /** Creates {@link SessionIdProducer}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public SessionIdProducer create(PluginSpec spec, PluginHandle handle) {
      Parameters parameters = spec.parameters();
      String header = parameters.getString("headerName", "").trim();
      String cookie = parameters.getString("cookieName", "").trim();
      if (header.isEmpty() == cookie.isEmpty()) {
        throw new PluginConfigException(
            "exactly one of parameters 'headerName' and 'cookieName' must be set"
                + (header.isEmpty() ? "" : ", not both"));
      }
      return header.isEmpty() ? fromCookie(spec.name(), cookie) : fromHeader(spec.name(), header);
    }
  }
}
