package dev.epp.examples.consumer;

import dev.epp.api.Endpoint;
import dev.epp.api.InferenceRequest;
import dev.epp.api.RequestContext;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.scheduler.EndpointPool;
import dev.epp.scheduler.PluginRegistry;
import dev.epp.scheduler.Scheduler;
import java.util.Map;

/**
 * Loads a configuration whose plugins {@code ServiceLoader} finds in their modules (a built-in scorer and the
 * {@code prefer-label-scorer} of {@code dev.epp.examples.plugin}; the precise prefix-cache plugins of
 * {@code dev.epp.kvcache} are found too), schedules one request over three endpoints and
 * prints the chosen one.
 */
public final class Main {

  private static final String CONFIG = """
      apiVersion: inference.networking.x-k8s.io/v1alpha1
      kind: EndpointPickerConfig
      plugins:
      - type: prefer-label-scorer
        parameters:
          label: gpu
      - type: queue-scorer
      schedulingProfiles:
      - name: default
        plugins:
        - pluginRef: prefer-label-scorer
          weight: 3
        - pluginRef: queue-scorer
      """;

  public static void main(String[] args) {
    PluginRegistry registry = PluginRegistry.defaultRegistry();
    System.out.println("registry module: " + PluginRegistry.class.getModule().getName());
    for (String type : new String[] {"queue-scorer", "prefer-label-scorer", "precise-prefix-cache-producer"}) {
      System.out.println(type + " module: " + registry.factory(type)
          .map(factory -> factory.getClass().getModule().getName()).orElse("none"));
    }

    EndpointPool pool = new EndpointPool();
    pool.upsert(Endpoint.of("cpu-0", "10.0.0.1", 8000));
    pool.upsert(new Endpoint("gpu-0", "10.0.0.2", 8000, Map.of("gpu", "h100")));
    pool.upsert(Endpoint.of("cpu-1", "10.0.0.3", 8000));
    Scheduler scheduler = new Scheduler(EndpointPickerConfig.parse(CONFIG));
    InferenceRequest request = InferenceRequest.builder().requestId("r1").model("m").build();
    System.out.println("chosen: "
        + scheduler.schedule(new RequestContext(request), pool.snapshot()).targets().get(0).hostPort());
  }
}
