package dev.epp.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.Endpoint;
import dev.epp.api.EndpointMetrics;
import dev.epp.api.EndpointStore;
import dev.epp.api.MetricsRecorder;
import dev.epp.api.Parameters;
import dev.epp.api.Plugin;
import dev.epp.api.scheduling.Candidates;
import dev.epp.scheduler.plugins.prefix.ApproxPrefixCacheProducer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Test;

/** Loading a configuration {@linkplain EndpointPickerConfig.Loader#reusing reusing} a running one, and retiring it. */
class EndpointPickerConfigReloadTest {

  private final GaugeRecorder metrics = new GaugeRecorder();
  private final ListenerRecordingPool pool = new ListenerRecordingPool();

  private static String config(int weight, int lruCapacity) {
    return """
        apiVersion: llm-d.ai/v1alpha1
        kind: EndpointPickerConfig
        plugins:
        - type: approx-prefix-cache-producer
          parameters:
            lruCapacityPerServer: %d
        - type: prefix-cache-scorer
        - type: queue-scorer
        schedulingProfiles:
        - name: default
          plugins:
          - pluginRef: prefix-cache-scorer
            weight: %d
          - pluginRef: queue-scorer
        """.formatted(lruCapacity, weight);
  }

  private EndpointPickerConfig.Loader loader() {
    return EndpointPickerConfig.loader().metrics(metrics);
  }

  @Test
  void aWeightChangeKeepsEveryPluginInstanceAndRegistersNothingTwice() {
    EndpointPickerConfig running = loader().parse(config(1, 1000), "a.yaml");
    Director.builder(running, pool).build();
    int listeners = pool.added.size();

    EndpointPickerConfig next = loader().reusing(running).parse(config(3, 1000), "a.yaml");
    Director.builder(next, pool).build();

    assertEquals(running.plugins().size(), next.plugins().size());
    for (int i = 0; i < next.plugins().size(); i++) {
      assertSame(running.plugins().get(i), next.plugins().get(i), next.plugins().get(i).typedName().toString());
      assertTrue(next.reused().contains(next.plugins().get(i)));
    }
    assertEquals(3.0, next.profiles().get(0).scorers().get(0).weight());
    assertEquals(listeners, pool.added.size(), "a reused plugin is not registered with the store again");
    assertEquals(1, metrics.prefixIndexSizes.size());

    running.retire(next, pool);
    assertEquals(List.of(), pool.removed);
    assertEquals(1, metrics.prefixIndexSizes.size(), "a reused producer keeps its gauge");
  }

  @Test
  void changedParametersReplaceThePluginWhichRetiringClosesAndUnregisters() {
    EndpointPickerConfig running = loader().parse(config(1, 1000), "a.yaml");
    Director.builder(running, pool).build();
    Plugin oldProducer = running.plugin(ApproxPrefixCacheProducer.TYPE).orElseThrow();

    EndpointPickerConfig next = loader().reusing(running).parse(config(1, 2000), "a.yaml");
    Director.builder(next, pool).build();
    Plugin newProducer = next.plugin(ApproxPrefixCacheProducer.TYPE).orElseThrow();

    assertNotSame(oldProducer, newProducer);
    assertTrue(pool.added.contains(newProducer));
    assertSame(running.plugin("queue-scorer").orElseThrow(), next.plugin("queue-scorer").orElseThrow());
    assertEquals(2, metrics.prefixIndexSizes.size());

    running.retire(next, pool);
    assertEquals(List.of(oldProducer), pool.removed);
    assertEquals(1, metrics.prefixIndexSizes.size(), "the replaced producer's gauge supplier is gone");
  }

  @Test
  void aPluginThatLookedUpAReplacedPluginIsReplacedToo() {
    String named = """
        apiVersion: llm-d.ai/v1alpha1
        kind: EndpointPickerConfig
        plugins:
        - name: p
          type: approx-prefix-cache-producer
          parameters:
            lruCapacityPerServer: %d
        - type: prefix-cache-scorer
          parameters:
            prefixMatchInfoProducerName: p
        - type: queue-scorer
        """;
    EndpointPickerConfig running = loader().parse(named.formatted(1000), "a.yaml");
    EndpointPickerConfig same = loader().reusing(running).parse(named.formatted(1000), "a.yaml");
    assertSame(running.plugin("prefix-cache-scorer").orElseThrow(), same.plugin("prefix-cache-scorer").orElseThrow());

    EndpointPickerConfig next = loader().reusing(same).parse(named.formatted(2000), "a.yaml");
    assertNotSame(same.plugin("p").orElseThrow(), next.plugin("p").orElseThrow());
    assertNotSame(same.plugin("prefix-cache-scorer").orElseThrow(), next.plugin("prefix-cache-scorer").orElseThrow());
    assertSame(same.plugin("queue-scorer").orElseThrow(), next.plugin("queue-scorer").orElseThrow());
  }

  @Test
  void aRefusedDocumentLeavesTheReusedPluginsOpen() {
    EndpointPickerConfig running = loader().parse(config(1, 1000), "a.yaml");
    String dangling = config(2, 1000).replace("- pluginRef: queue-scorer", "- pluginRef: nope");
    ConfigException e = assertThrows(ConfigException.class,
        () -> loader().reusing(running).parse(dangling, "a.yaml"));
    assertTrue(e.getMessage().startsWith("a.yaml:"), e.getMessage());
    assertEquals(1, metrics.prefixIndexSizes.size(), "the running producer was not closed");
  }

  @Test
  void parametersAreEqualByValue() {
    Parameters a = Parameters.of(Map.of("k", 1, "m", List.of("x")));
    Parameters b = Parameters.of(Map.of("m", List.of("x"), "k", 1));
    a.getInt("k", 0);
    assertEquals(a, b);
    assertEquals(a.hashCode(), b.hashCode());
    assertNotEquals(a, Parameters.of(Map.of("k", 2, "m", List.of("x"))));
    assertNotEquals(a, Parameters.of(Map.of("k", 1.0, "m", List.of("x"))));
  }

  /** Records the prefix-index gauge suppliers added and not removed. */
  private static final class GaugeRecorder implements MetricsRecorder {
    final List<LongSupplier> prefixIndexSizes = new CopyOnWriteArrayList<>();

    @Override
    public void addPrefixIndexSize(LongSupplier size) {
      prefixIndexSizes.add(size);
    }

    @Override
    public void removePrefixIndexSize(LongSupplier size) {
      prefixIndexSizes.remove(size);
    }
  }

  /** An endpoint pool that records the plugin listeners added and removed. */
  private static final class ListenerRecordingPool implements EndpointStore {
    private final EndpointPool pool = new EndpointPool();
    final List<Listener> added = new ArrayList<>();
    final List<Listener> removed = new ArrayList<>();

    @Override
    public Candidates snapshot() {
      return pool.snapshot();
    }

    @Override
    public boolean upsert(Endpoint endpoint) {
      return pool.upsert(endpoint);
    }

    @Override
    public boolean remove(String name) {
      return pool.remove(name);
    }

    @Override
    public boolean updateMetrics(String name, EndpointMetrics metrics) {
      return pool.updateMetrics(name, metrics);
    }

    @Override
    public void addListener(Listener listener) {
      if (listener instanceof Plugin) {
        added.add(listener);
      }
      pool.addListener(listener);
    }

    @Override
    public void removeListener(Listener listener) {
      if (listener instanceof Plugin) {
        removed.add(listener);
      }
      pool.removeListener(listener);
    }
  }
}
