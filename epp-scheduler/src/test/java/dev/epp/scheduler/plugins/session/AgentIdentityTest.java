package dev.epp.scheduler.plugins.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.Parameters;
import dev.epp.api.PluginFactory;
import dev.epp.api.RequestContext;
import dev.epp.api.requestcontrol.Fairness;
import dev.epp.testkit.Fixtures;
import dev.epp.testkit.PluginContract;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AgentIdentityTest implements PluginContract {

  private final AgentIdentity identity = create(Map.of());

  @Override
  public PluginFactory factory() {
    return new AgentIdentity.Factory();
  }

  @Override
  public Parameters validParameters() {
    return Parameters.of(Map.of("additionalSessionHeaders", List.of("X-My-Agent")));
  }

  private AgentIdentity create(Map<String, Object> parameters) {
    return (AgentIdentity) createThroughFactory("agents", Parameters.of(parameters));
  }

  private static String identify(AgentIdentity identity, Map<String, String> headers) {
    RequestContext context = Fixtures.context("m", headers);
    identity.requestHeader(context);
    return context.get(Fairness.AGENT_IDENTITY);
  }

  @Test
  void isExperimentalAsLlmdAlpha() {
    assertTrue(factory().experimental());
  }

  @Test
  void eachDefaultHeaderIdentifiesTheAgent() {
    for (String header : List.of("x-claude-code-session-id", "x-session-affinity", "session-id", "session_id")) {
      assertEquals("s-" + header, identify(identity, Map.of(header, "s-" + header)), header);
    }
  }

  @Test
  void theFirstNonEmptyHeaderInLlmdOrderWins() {
    Map<String, String> all = Map.of("x-claude-code-session-id", "claude", "x-session-affinity", "opencode",
        "session-id", "codex", "session_id", "legacy");
    assertEquals("claude", identify(identity, all));
    assertEquals("opencode", identify(identity, Map.of("x-claude-code-session-id", "", "x-session-affinity",
        "opencode", "session-id", "codex", "session_id", "legacy")));
    assertEquals("codex", identify(identity, Map.of("session-id", "codex", "session_id", "legacy")));
  }

  @Test
  void additionalHeadersComeFirstCaseInsensitively() {
    AgentIdentity custom = create(Map.of("additionalSessionHeaders", List.of("X-My-Agent", "x-other")));
    assertEquals("mine", identify(custom, Map.of("x-my-agent", "mine", "x-claude-code-session-id", "claude")));
    assertEquals("other", identify(custom, Map.of("x-other", "other", "session_id", "legacy")));
    assertEquals("claude", identify(custom, Map.of("x-claude-code-session-id", "claude")));
  }

  @Test
  void withoutASessionHeaderNothingIsStored() {
    assertNull(identify(identity, Map.of("x-session-id", "not-an-agent", "session-id", "")));
  }
}
