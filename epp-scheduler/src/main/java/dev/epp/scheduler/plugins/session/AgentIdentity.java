package dev.epp.scheduler.plugins.session;

import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.TypedName;
import dev.epp.api.requestcontrol.Fairness;
import dev.epp.api.requestcontrol.RequestHeaderProcessor;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Stores the agent session a request belongs to as its {@link Fairness#AGENT_IDENTITY}, which the Director makes the
 * request's fairness ID when no fairness header is set: llm-d's {@code agent-identity} (Alpha, so experimental). The
 * first non-empty of the request headers {@code additionalSessionHeaders} (a list of header names, default none,
 * compared case-insensitively), then {@code x-claude-code-session-id} (Claude Code), {@code x-session-affinity}
 * (OpenCode), {@code session-id} and {@code session_id} (Codex) is stored; with none, nothing is.
 *
 * <p><b>Threading:</b> immutable.
 */
public final class AgentIdentity implements RequestHeaderProcessor {

  /** The plugin type. */
  public static final String TYPE = "agent-identity";

  /** The headers always read, after the additional ones, in order. */
  static final List<String> DEFAULT_HEADERS =
      List.of("x-claude-code-session-id", "x-session-affinity", "session-id", "session_id");

  private final TypedName typedName;
  private final String[] headers;

  /** A plugin named {@code name} reading {@code additionalHeaders} before the default headers. */
  public AgentIdentity(String name, List<String> additionalHeaders) {
    this.typedName = new TypedName(TYPE, name);
    List<String> all = new ArrayList<>();
    for (String header : additionalHeaders) {
      all.add(header.toLowerCase(Locale.ROOT));
    }
    all.addAll(DEFAULT_HEADERS);
    this.headers = all.toArray(String[]::new);
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public void requestHeader(RequestContext context) {
    Map<String, String> requestHeaders = context.request().headers();
    for (String header : headers) {
      String id = requestHeaders.get(header);
      if (id != null && !id.isEmpty()) {
        context.put(Fairness.AGENT_IDENTITY, id);
        return;
      }
    }
  }

  /** Creates {@link AgentIdentity} plugins. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public boolean experimental() {
      return true;
    }

    @Override
    public AgentIdentity create(PluginSpec spec, PluginHandle handle) {
      return new AgentIdentity(spec.name(), spec.parameters().getStringList("additionalSessionHeaders", List.of()));
    }
  }
}
