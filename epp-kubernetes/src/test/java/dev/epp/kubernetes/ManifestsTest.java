package dev.epp.kubernetes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.scheduler.EndpointPickerConfig;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.dataformat.yaml.YAMLMapper;

/**
 * The manifests of {@code examples/kubernetes} agree with each other and with the server: only the server's flags,
 * the same ports in the flags, container, probes, Service and Envoy config, RBAC for everything the EPP watches.
 */
class ManifestsTest {

  /** The flags of the {@code server} command the manifests may use. */
  private static final Set<String> SERVER_FLAGS = Set.of("--pool-name", "--pool-namespace", "--grpc-port",
      "--grpc-health-port", "--metrics-port", "--config-file", "--secure-serving", "--health-checking",
      "--ha-enable-leader-election");

  private static final Path DIR = Path.of("..", "examples", "kubernetes");

  private static List<HasMetadata> load(String file) throws IOException {
    Object parsed = new KubernetesSerialization().unmarshal(Files.readString(DIR.resolve(file)));
    List<?> items = parsed instanceof List<?> list ? list : List.of(parsed);
    return items.stream().map(HasMetadata.class::cast).collect(Collectors.toList());
  }

  private static <T> T only(List<HasMetadata> resources, Class<T> type) {
    List<T> found = resources.stream().filter(type::isInstance).map(type::cast).collect(Collectors.toList());
    assertEquals(1, found.size(), "one " + type.getSimpleName());
    return found.get(0);
  }

  @Test
  void theEppDeploymentUsesOnlyServerFlagsAndConsistentPorts() throws IOException {
    List<HasMetadata> epp = load("epp.yaml");
    Deployment deployment = only(epp, Deployment.class);
    Container container = deployment.getSpec().getTemplate().getSpec().getContainers().get(0);

    Map<String, String> flags = new HashMap<>();
    List<String> args = container.getArgs();
    for (int i = 0; i < args.size(); i++) {
      String arg = args.get(i);
      assertTrue(arg.startsWith("--"), "a flag, not a stray value: " + arg);
      int eq = arg.indexOf('=');
      String flag = eq < 0 ? arg : arg.substring(0, eq);
      assertTrue(SERVER_FLAGS.contains(flag), "the server has no flag " + flag);
      flags.put(flag, eq < 0 ? args.get(++i) : arg.substring(eq + 1));
    }
    Map<String, Integer> containerPorts = container.getPorts().stream()
        .collect(Collectors.toMap(ContainerPort::getName, ContainerPort::getContainerPort));
    assertEquals(Map.of("grpc", 9002, "grpc-health", 9003, "metrics", 9090), containerPorts);
    assertEquals(String.valueOf(containerPorts.get("grpc")), flags.get("--grpc-port"));
    assertEquals(String.valueOf(containerPorts.get("grpc-health")), flags.get("--grpc-health-port"));
    assertEquals(String.valueOf(containerPorts.get("metrics")), flags.get("--metrics-port"));
    assertEquals(9003, container.getLivenessProbe().getGrpc().getPort());
    assertEquals(9003, container.getReadinessProbe().getGrpc().getPort());

    Service service = only(epp, Service.class);
    assertEquals(deployment.getSpec().getTemplate().getMetadata().getLabels(), service.getSpec().getSelector());
    Set<Integer> servicePorts = new HashSet<>();
    service.getSpec().getPorts().forEach(p -> {
      assertEquals(p.getPort(), p.getTargetPort().getIntVal(), p.getName());
      servicePorts.add(p.getPort());
    });
    assertEquals(new HashSet<>(containerPorts.values()), servicePorts);

    // --config-file names a key of the mounted ConfigMap, and that key is a valid EndpointPickerConfig.
    Path configFile = Path.of(flags.get("--config-file"));
    VolumeMount mount = container.getVolumeMounts().stream()
        .filter(m -> Path.of(m.getMountPath()).equals(configFile.getParent())).findFirst().orElseThrow();
    String configMapName = deployment.getSpec().getTemplate().getSpec().getVolumes().stream()
        .filter(v -> v.getName().equals(mount.getName())).findFirst().orElseThrow().getConfigMap().getName();
    ConfigMap configMap = only(epp, ConfigMap.class);
    assertEquals(configMapName, configMap.getMetadata().getName());
    String config = configMap.getData().get(configFile.getFileName().toString());
    assertNotNull(config, "the ConfigMap has " + configFile.getFileName());
    assertNotNull(EndpointPickerConfig.parse(config));

    // The pool named by --pool-name is the sample pool, whose endpoint picker is this Service on the gRPC port.
    GenericKubernetesResource pool = (GenericKubernetesResource) load("inferencepool.yaml").stream()
        .filter(r -> r.getKind().equals("InferencePool")).findFirst().orElseThrow();
    assertEquals(pool.getMetadata().getName(), flags.get("--pool-name"));
    assertEquals(service.getMetadata().getName(), Resources.field(pool, "spec", "endpointPickerRef", "name"));
    assertEquals(9002, Resources.intValue(Resources.field(pool, "spec", "endpointPickerRef", "port", "number"), 0));
  }

  @Test
  void theServiceAccountMayWatchPodsPoolsObjectivesAndRewrites() throws IOException {
    List<HasMetadata> epp = load("epp.yaml");
    String account = only(epp, ServiceAccount.class).getMetadata().getName();
    assertEquals(account, only(epp, Deployment.class).getSpec().getTemplate().getSpec().getServiceAccountName());
    RoleBinding binding = only(epp, RoleBinding.class);
    Role role = only(epp, Role.class);
    assertEquals(account, binding.getSubjects().get(0).getName());
    assertEquals(role.getMetadata().getName(), binding.getRoleRef().getName());

    Set<String> granted = new HashSet<>();
    for (PolicyRule rule : role.getRules()) {
      assertEquals(Set.of("get", "list", "watch"), new HashSet<>(rule.getVerbs()));
      for (String group : rule.getApiGroups()) {
        rule.getResources().forEach(resource -> granted.add(group + "/" + resource));
      }
    }
    assertEquals(Set.of("/pods",
        Resources.INFERENCE_POOL.getGroup() + "/" + Resources.INFERENCE_POOL.getPlural(),
        Resources.INFERENCE_OBJECTIVE.getGroup() + "/" + Resources.INFERENCE_OBJECTIVE.getPlural(),
        Resources.INFERENCE_MODEL_REWRITE.getGroup() + "/" + Resources.INFERENCE_MODEL_REWRITE.getPlural()), granted);
  }

  @Test
  void theHaOverlayRunsTwoElectingReplicasOnTheBaseAndMayUseTheirLease() throws IOException {
    JsonNode kustomization = new YAMLMapper().readTree(DIR.resolve("ha/kustomization.yaml").toFile());
    assertEquals(List.of("..", "lease-rbac.yaml"), kustomization.path("resources").valueStream()
        .map(JsonNode::asString).toList());
    assertEquals("deployment.yaml", kustomization.path("patches").get(0).path("path").asString());
    assertEquals(List.of("epp.yaml"), new YAMLMapper().readTree(DIR.resolve("kustomization.yaml").toFile())
        .path("resources").valueStream().map(JsonNode::asString).toList());

    Deployment base = only(load("epp.yaml"), Deployment.class);
    Deployment patch = only(load("ha/deployment.yaml"), Deployment.class);
    assertEquals(base.getMetadata().getName(), patch.getMetadata().getName());
    assertTrue(patch.getSpec().getReplicas() > 1, "more than one replica");
    Container baseContainer = base.getSpec().getTemplate().getSpec().getContainers().get(0);
    Container container = patch.getSpec().getTemplate().getSpec().getContainers().get(0);
    assertEquals(baseContainer.getName(), container.getName(), "the patch merges into the base's container");
    List<String> args = new ArrayList<>(baseContainer.getArgs());
    args.add("--ha-enable-leader-election");
    assertEquals(args, container.getArgs(), "the base's arguments and the election flag");
    assertEquals("liveness", container.getLivenessProbe().getGrpc().getService());
    assertEquals("readiness", container.getReadinessProbe().getGrpc().getService());

    List<HasMetadata> rbac = load("ha/lease-rbac.yaml");
    Role role = only(rbac, Role.class);
    RoleBinding binding = only(rbac, RoleBinding.class);
    assertEquals(role.getMetadata().getName(), binding.getRoleRef().getName());
    assertEquals(only(load("epp.yaml"), ServiceAccount.class).getMetadata().getName(),
        binding.getSubjects().get(0).getName());
    PolicyRule rule = role.getRules().get(0);
    assertEquals(List.of("coordination.k8s.io"), rule.getApiGroups());
    assertEquals(List.of("leases"), rule.getResources());
    assertTrue(rule.getVerbs().containsAll(List.of("get", "create", "update")), rule.getVerbs().toString());
  }

  @Test
  void theActiveActiveOverlayRunsTwoReplicasSharingTheirIndexThroughItsRedis() throws IOException {
    JsonNode kustomization = new YAMLMapper().readTree(DIR.resolve("active-active/kustomization.yaml").toFile());
    assertEquals(List.of("..", "redis.yaml"), kustomization.path("resources").valueStream()
        .map(JsonNode::asString).toList());
    assertEquals(List.of("deployment.yaml", "config.yaml"), kustomization.path("patches").valueStream()
        .map(patch -> patch.path("path").asString()).toList());

    List<HasMetadata> base = load("epp.yaml");
    Deployment patch = only(load("active-active/deployment.yaml"), Deployment.class);
    assertEquals(only(base, Deployment.class).getMetadata().getName(), patch.getMetadata().getName());
    assertTrue(patch.getSpec().getReplicas() > 1, "more than one replica");
    assertNull(patch.getSpec().getTemplate(), "the base's pods, without an election: every replica routes");

    ConfigMap baseConfig = only(base, ConfigMap.class);
    ConfigMap config = only(load("active-active/config.yaml"), ConfigMap.class);
    assertEquals(baseConfig.getMetadata().getName(), config.getMetadata().getName());
    assertEquals(baseConfig.getData().keySet(), config.getData().keySet(), "the key --config-file names");
    String yaml = config.getData().values().iterator().next();
    EndpointPickerConfig parsed = EndpointPickerConfig.parse(yaml); // the real plugin, with its parameters checked
    try {
      assertTrue(parsed.plugin("redis-prefix-index-sync").isPresent());
    } finally {
      parsed.close();
    }

    List<HasMetadata> redis = load("active-active/redis.yaml");
    Service service = only(redis, Service.class);
    Deployment deployment = only(redis, Deployment.class);
    assertEquals(deployment.getSpec().getTemplate().getMetadata().getLabels(), service.getSpec().getSelector());
    String address = new YAMLMapper().readTree(yaml).path("plugins").valueStream()
        .filter(p -> p.path("type").asString().equals("redis-prefix-index-sync")).findFirst().orElseThrow()
        .path("parameters").path("address").asString();
    assertEquals("redis://" + service.getMetadata().getName() + ":" + service.getSpec().getPorts().get(0).getPort(),
        address);
  }

  @Test
  void envoyStreamsBodiesToTheEppAndRoutesOnTheDestinationHeader() throws IOException {
    JsonNode envoy = new YAMLMapper().readTree(DIR.resolve("envoy.yaml").toFile());
    JsonNode resources = envoy.path("static_resources");
    JsonNode extProc = null;
    for (JsonNode filter : resources.path("listeners").get(0).path("filter_chains").get(0).path("filters").get(0)
        .path("typed_config").path("http_filters")) {
      if (filter.path("name").asString().equals("envoy.filters.http.ext_proc")) {
        extProc = filter.path("typed_config");
      }
    }
    assertNotNull(extProc, "an ext_proc filter");
    assertEquals("FULL_DUPLEX_STREAMED", extProc.path("processing_mode").path("request_body_mode").asString());
    assertEquals("FULL_DUPLEX_STREAMED", extProc.path("processing_mode").path("response_body_mode").asString());
    String extProcCluster = extProc.path("grpc_service").path("envoy_grpc").path("cluster_name").asString();

    Map<String, JsonNode> clusters = new HashMap<>();
    resources.path("clusters").forEach(c -> clusters.put(c.path("name").asString(), c));
    JsonNode original = clusters.values().stream()
        .filter(c -> c.path("type").asString().equals("ORIGINAL_DST")).findFirst().orElseThrow();
    assertEquals("x-gateway-destination-endpoint",
        original.path("original_dst_lb_config").path("http_header_name").asString());
    assertTrue(original.path("original_dst_lb_config").path("use_http_header").asBoolean());

    JsonNode address = clusters.get(extProcCluster).path("load_assignment").path("endpoints").get(0)
        .path("lb_endpoints").get(0).path("endpoint").path("address").path("socket_address");
    Service service = only(load("epp.yaml"), Service.class);
    assertEquals(service.getMetadata().getName(), address.path("address").asString());
    assertEquals(9002, address.path("port_value").asInt());
  }
}
