package dev.epp.kvcache;

import dev.epp.api.Plugin;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.TypedName;

/**
 * llm-d's {@code endpoint-notification-source}: the data source that notifies its extractors (e.g.
 * {@code precise-prefix-cache-producer}) when endpoints join or leave the pool. Here it does nothing itself: every
 * plugin implementing {@link dev.epp.api.EndpointStore.Listener} is notified of pool changes already, whether or
 * not it is named under this source in {@code dataLayer}. It exists so llm-d configurations load unchanged.
 *
 * <p><b>Threading:</b> immutable.
 */
public final class EndpointNotificationSource implements Plugin {

  /** The plugin type. */
  public static final String TYPE = "endpoint-notification-source";

  private final TypedName typedName;

  /** A source named {@code name}. */
  public EndpointNotificationSource(String name) {
    this.typedName = new TypedName(TYPE, name);
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  /** Creates {@link EndpointNotificationSource}s; they take no parameters. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public EndpointNotificationSource create(PluginSpec spec, PluginHandle handle) {
      return new EndpointNotificationSource(spec.name());
    }
  }
}
