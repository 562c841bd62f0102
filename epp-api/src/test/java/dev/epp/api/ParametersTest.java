package dev.epp.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ParametersTest {

  @Test
  void typedAccessorsReturnValuesOrDefaults() {
    Map<String, Object> raw = new HashMap<>();
    raw.put("int", 3);
    raw.put("long", 5_000_000_000L);
    raw.put("integralDouble", 2.0);
    raw.put("double", 0.25);
    raw.put("bool", true);
    raw.put("string", "x");
    raw.put("list", List.of("a", "b"));
    raw.put("nothing", null);
    Parameters p = Parameters.of(raw);
    assertEquals(3, p.getInt("int", 0));
    assertEquals(5_000_000_000L, p.getLong("long", 0));
    assertEquals(2, p.getInt("integralDouble", 0));
    assertEquals(0.25, p.getDouble("double", 0));
    assertEquals(3.0, p.getDouble("int", 0));
    assertTrue(p.getBoolean("bool", false));
    assertEquals("x", p.getString("string", null));
    assertEquals(List.of("a", "b"), p.getStringList("list", List.of()));
    assertEquals(7, p.getInt("nothing", 7));
    assertFalse(p.contains("nothing"));
    assertEquals(9, p.getInt("absent", 9));
  }

  @Test
  void wrongTypesNameTheKey() {
    Parameters p = Parameters.of(Map.of("n", "five", "f", 1.5, "big", 5_000_000_000L, "b", "yes", "l", List.of(1)));
    assertEquals("parameter 'n' must be an integer, got \"five\"",
        assertThrows(PluginConfigException.class, () -> p.getInt("n", 0)).getMessage());
    assertEquals("f", assertThrows(PluginConfigException.class, () -> p.getInt("f", 0)).parameter());
    assertThrows(PluginConfigException.class, () -> p.getInt("big", 0));
    assertThrows(PluginConfigException.class, () -> p.getBoolean("b", false));
    assertThrows(PluginConfigException.class, () -> p.getStringList("l", List.of()));
    assertThrows(PluginConfigException.class, () -> p.getDouble("n", 0));
    assertThrows(PluginConfigException.class, () -> p.getParameters("n"));
  }

  @Test
  void unreadKeysIncludeNestedOnesWithTheirPaths() {
    Parameters p = Parameters.of(Map.of(
        "used", 1,
        "unused", 2,
        "nested", Map.of("a", 1, "b", 2),
        "list", List.of(Map.of("name", "x", "extra", true))));
    p.getInt("used", 0);
    p.getParameters("nested").getInt("a", 0);
    Parameters item = p.getParametersList("list").get(0);
    assertEquals("x", item.getString("name", null));
    assertEquals(List.of("unused", "nested.b", "list[0].extra"), p.unreadKeys());
    PluginConfigException e =
        assertThrows(PluginConfigException.class, () -> item.getInt("name", 0));
    assertEquals("list[0].name", e.parameter());
    p.markAllRead();
    assertEquals(List.of("nested.b", "list[0].extra"), p.unreadKeys());
  }

  @Test
  void durationsStringMapsAndNestedErrors() {
    Parameters p = Parameters.of(Map.of(
        "ttl", "1.5s", "number", 200, "bad", "200", "labels", Map.of("app", "vllm"), "badLabels", Map.of("n", 1),
        "items", List.of(Map.of("key", ""))));
    assertEquals(java.time.Duration.ofMillis(1500), p.getDuration("ttl", java.time.Duration.ZERO));
    assertEquals(java.time.Duration.ofSeconds(2), p.getDuration("absent", java.time.Duration.ofSeconds(2)));
    assertTrue(assertThrows(PluginConfigException.class, () -> p.getDuration("number", null))
        .getMessage().contains("a duration string with a unit"));
    assertTrue(assertThrows(PluginConfigException.class, () -> p.getDuration("bad", null))
        .getMessage().contains("missing unit"));
    assertEquals(Map.of("app", "vllm"), p.getStringMap("labels"));
    assertEquals(Map.of(), p.getStringMap("absentLabels"));
    assertEquals("badLabels.n", assertThrows(PluginConfigException.class, () -> p.getStringMap("badLabels"))
        .parameter());
    Parameters item = p.getParametersList("items").get(0);
    PluginConfigException e = item.invalid("key", "is required");
    assertEquals("parameter 'items[0].key' is required", e.getMessage());
    assertEquals("items[0].key", e.parameter());
  }
}
