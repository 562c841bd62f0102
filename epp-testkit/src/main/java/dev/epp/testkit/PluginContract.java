package dev.epp.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.epp.api.Parameters;
import dev.epp.api.Plugin;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.TypedName;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Checks every {@link PluginFactory} must pass, as reusable tests. {@link ScorerContract}, {@link FilterContract} and
 * {@link PickerContract} extend it; implement it directly only for plugins without one of those (e.g. a profile
 * handler).
 */
public interface PluginContract {

  /** The factory of the plugin under test, or {@code null} to skip the factory checks. */
  default PluginFactory factory() {
    return null;
  }

  /**
   * Parameters the factory accepts, as a new instance on every call (parameters record which keys were read).
   * Empty by default.
   */
  default Parameters validParameters() {
    return Parameters.empty();
  }

  /** The request the plugin is called with. By default a request for {@link Fixtures#ADAPTER} without headers. */
  default RequestContext newContext() {
    return Fixtures.context();
  }

  /**
   * The handle {@link #createThroughFactory} passes to the factory; by default one with no other plugins whose ticker
   * is a new {@link FakeTicker}. Override it for a plugin that needs another plugin.
   */
  default PluginHandle newHandle() {
    return Fixtures.handle(new FakeTicker());
  }

  /**
   * Creates a plugin named {@code name} through {@link #factory()}, with {@link #newHandle()}, and then applies the EPP's rule for configurations: a parameter the factory never read is an
   * unknown parameter.
   *
   * @throws PluginConfigException if the factory rejects the parameters, or left one unread (naming it)
   */
  default Plugin createThroughFactory(String name, Parameters parameters) {
    PluginSpec spec = new PluginSpec(name, factory().type(), parameters);
    Plugin plugin = factory().create(spec, newHandle());
    List<String> unread = parameters.unreadKeys();
    if (!unread.isEmpty()) {
      throw new PluginConfigException("unknown parameter '" + unread.get(0) + "'", unread.get(0));
    }
    return plugin;
  }

  @Test
  default void factoryTypeIsKebabCase() {
    assumeTrue(factory() != null, "no factory");
    String type = factory().type();
    assertTrue(type.matches("[a-z0-9]+(-[a-z0-9]+)*"), () -> "type '" + type + "' is not lower-case kebab-case");
  }

  @Test
  default void factoryCreatesPluginWithTheSpecsTypeAndName() {
    assumeTrue(factory() != null, "no factory");
    Plugin plugin = createThroughFactory("my-instance", validParameters());
    assertEquals(new TypedName(factory().type(), "my-instance"), plugin.typedName());
  }

  @Test
  default void factoryRejectsUnknownParameter() {
    assumeTrue(factory() != null, "no factory");
    Map<String, Object> values = new LinkedHashMap<>(validParameters().asMap());
    values.put("noSuchParameter", 1);
    PluginConfigException e =
        assertThrows(PluginConfigException.class, () -> createThroughFactory("my-instance", Parameters.of(values)));
    assertEquals("noSuchParameter", e.parameter());
    assertTrue(e.getMessage().contains("noSuchParameter"), e::getMessage);
  }
}
