package dev.epp.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointStore;
import dev.epp.api.Plugin;
import dev.epp.api.TypedName;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** Closing a configuration's plugins, and telling listeners of the endpoints already in the store. */
class EndpointPickerConfigLifecycleTest {

  private static final String HEADER = "apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\n";

  private final List<String> calls = new CopyOnWriteArrayList<>();

  /** Records its lifecycle calls; {@code fail-*} names fail to close. */
  private final class Recorder implements Plugin, EndpointStore.Listener, AutoCloseable {
    private final TypedName typedName;

    Recorder(TypedName typedName) {
      this.typedName = typedName;
    }

    @Override
    public TypedName typedName() {
      return typedName;
    }

    @Override
    public void added(Endpoint endpoint) {
      calls.add(typedName.name() + " added " + endpoint.name());
    }

    @Override
    public void removed(Endpoint endpoint) {
      calls.add(typedName.name() + " removed " + endpoint.name());
    }

    @Override
    public void close() {
      calls.add(typedName.name() + " closed");
      if (typedName.name().startsWith("fail")) {
        throw new IllegalStateException("cannot close");
      }
    }
  }

  private EndpointPickerConfig load(String... names) {
    PluginRegistry registry = TestPlugins.registry();
    registry.register(TestPlugins.factory("test-recorder", spec -> new Recorder(spec.typedName())));
    StringBuilder yaml = new StringBuilder(HEADER + "plugins:\n");
    for (String name : names) {
      yaml.append("- name: ").append(name).append("\n  type: test-recorder\n");
    }
    return EndpointPickerConfig.loader().registry(registry).parse(yaml.toString(), "test.yaml");
  }

  @Test
  void closeClosesAutoCloseablePluginsInReverseOrderOnceDespiteFailures() {
    EndpointPickerConfig config = load("first", "fail-second", "third");
    config.close();
    config.close();
    assertEquals(List.of("third closed", "fail-second closed", "first closed"), calls);
  }

  @Test
  void listenersAreToldOfEndpointsAlreadyInTheStore() {
    EndpointPool pool = new EndpointPool();
    pool.upsert(Endpoint.of("early", "10.0.0.1", 8000));
    load("recorder").listenTo(pool);
    pool.upsert(Endpoint.of("late", "10.0.0.2", 8000));
    pool.remove("early");
    assertEquals(List.of("recorder added early", "recorder added late", "recorder removed early"), calls);
  }
}
