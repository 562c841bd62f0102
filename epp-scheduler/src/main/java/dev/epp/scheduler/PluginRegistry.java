package dev.epp.scheduler;

import dev.epp.api.Plugin;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.regex.Pattern;

/**
 * Plugin factories by type. Tests build their own with {@link #PluginRegistry()}; servers use
 * {@link #defaultRegistry()}, which holds every factory {@link ServiceLoader} finds.
 *
 * <p>Registering a second factory for a type is an error, never a silent override.
 *
 * <p><b>Threading:</b> thread-safe.
 */
public final class PluginRegistry {

  private static final Pattern TYPE = Pattern.compile("[a-z0-9]+(-[a-z0-9]+)*");

  private final ConcurrentMap<String, PluginFactory> factories = new ConcurrentHashMap<>();

  /** An empty registry. */
  public PluginRegistry() {}

  /**
   * The registry of every {@link PluginFactory} visible to this library's class loader, loaded on first use.
   *
   * @throws IllegalStateException if two factories declare the same type or a factory cannot be loaded
   */
  public static PluginRegistry defaultRegistry() {
    return DefaultHolder.INSTANCE;
  }

  /**
   * A new registry of every {@link PluginFactory} that {@link ServiceLoader} finds through {@code classLoader}.
   *
   * @throws IllegalStateException if two factories declare the same type or a factory cannot be loaded
   */
  public static PluginRegistry load(ClassLoader classLoader) {
    PluginRegistry registry = new PluginRegistry();
    try {
      for (PluginFactory factory : ServiceLoader.load(PluginFactory.class, classLoader)) {
        registry.register(factory);
      }
    } catch (ServiceConfigurationError e) {
      throw new IllegalStateException("cannot load a plugin factory: " + e.getMessage(), e);
    }
    return registry;
  }

  /**
   * Adds a factory.
   *
   * @throws IllegalArgumentException if the type is not lower-case kebab-case
   * @throws IllegalStateException if a factory for the same type is already registered
   */
  public void register(PluginFactory factory) {
    String type = Objects.requireNonNull(factory.type(), "type");
    if (!TYPE.matcher(type).matches()) {
      throw new IllegalArgumentException(
          "plugin type '" + type + "' of " + factory.getClass().getName() + " is not lower-case kebab-case");
    }
    PluginFactory existing = factories.putIfAbsent(type, factory);
    if (existing != null) {
      throw new IllegalStateException(
          "plugin type '" + type + "' is provided by both " + existing.getClass().getName() + " and "
              + factory.getClass().getName());
    }
  }

  /** The factory for {@code type}, if registered. */
  public Optional<PluginFactory> factory(String type) {
    return Optional.ofNullable(factories.get(type));
  }

  /** The registered types, sorted. */
  public Set<String> types() {
    return new TreeSet<>(factories.keySet());
  }

  /**
   * Creates a plugin, enforcing the factory contract: the type must be registered, every parameter must be read by
   * the factory, and the plugin must carry the spec's type and name. A plugin refused for an unknown parameter is
   * closed if it is {@link AutoCloseable}.
   *
   * @throws PluginConfigException if the type is unknown, a parameter is invalid or unknown, or the factory fails
   */
  public Plugin create(PluginSpec spec, PluginHandle handle) {
    PluginFactory factory = factories.get(spec.type());
    if (factory == null) {
      throw new PluginConfigException(
          "unknown plugin type '" + spec.type() + "'; known types: " + String.join(", ", types()));
    }
    Plugin plugin;
    try {
      plugin = factory.create(spec, handle);
    } catch (PluginConfigException | ConfigException e) { // ConfigException: a plugin it looked up failed
      throw e;
    } catch (RuntimeException e) {
      throw new PluginConfigException("plugin factory failed: " + e);
    }
    if (plugin == null || !spec.typedName().equals(plugin.typedName())) {
      throw new PluginConfigException(
          factory.getClass().getName() + " returned " + (plugin == null ? "null" : plugin.typedName())
              + " instead of a plugin named " + spec.typedName());
    }
    List<String> unread = spec.parameters().unreadKeys();
    if (!unread.isEmpty()) {
      PluginConfigException e = new PluginConfigException("unknown parameter '" + unread.get(0) + "'", unread.get(0));
      if (plugin instanceof AutoCloseable closeable) {
        try {
          closeable.close();
        } catch (Exception suppressed) {
          e.addSuppressed(suppressed);
        }
      }
      throw e;
    }
    return plugin;
  }

  private static final class DefaultHolder {
    static final PluginRegistry INSTANCE = load(PluginRegistry.class.getClassLoader());
  }
}
