package dev.epp.scheduler;

import dev.epp.api.GoDuration;
import dev.epp.api.MetricsRecorder;
import dev.epp.api.Parameters;
import dev.epp.api.Plugin;
import dev.epp.api.PluginConfigException;
import dev.epp.api.ConfigDialect;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.Ticker;
import dev.epp.api.flowcontrol.FairnessPolicy;
import dev.epp.api.flowcontrol.OrderingPolicy;
import dev.epp.api.flowcontrol.UsageLimitPolicy;
import dev.epp.api.requestcontrol.RequestParser;
import dev.epp.api.requestcontrol.SaturationDetector;
import dev.epp.api.scheduling.Filter;
import dev.epp.api.scheduling.Picker;
import dev.epp.api.scheduling.ProfileHandler;
import dev.epp.api.scheduling.Scorer;
import dev.epp.scheduler.SchedulingProfile.WeightedScorer;
import dev.epp.scheduler.flowcontrol.FlowControlConfig;
import dev.epp.scheduler.internal.YamlTree;
import dev.epp.scheduler.plugins.parser.PassthroughParser;
import dev.epp.scheduler.plugins.prefix.PrefixCacheScorer;
import dev.epp.scheduler.plugins.prefix.PrefixMatchProducer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import java.util.random.RandomGenerator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Binds a YAML document to an {@link EndpointPickerConfig}, following the Go EPP v1.5 loading pipeline: strict
 * decoding, name defaulting, plugin instantiation, system defaults, then validation.
 */
final class ConfigBinder {

  private static final Logger log = LoggerFactory.getLogger(ConfigBinder.class);

  static final String API_VERSION = "llm-d.ai/v1alpha1";
  static final String DEPRECATED_API_VERSION = "inference.networking.x-k8s.io/v1alpha1";
  static final Set<String> API_VERSIONS = Set.of(API_VERSION, DEPRECATED_API_VERSION);
  static final String KIND = "EndpointPickerConfig";
  /** The source name of {@link EndpointPickerConfig.Loader#defaults()}, GIE's default configuration. */
  static final String DEFAULT_SOURCE = "<default config>";
  static final Set<String> FEATURE_GATES = Set.of("dataLayer", "enableLegacyMetrics", "flowControl");

  static final String SINGLE_PROFILE_HANDLER = "single-profile-handler";
  static final String MAX_SCORE_PICKER = "max-score-picker";
  /** llm-d's parsers when none is configured, in order; the types this EPP does not register are left out. */
  static final List<String> DEFAULT_PARSERS =
      List.of("openai-parser", "anthropic-parser", "vllmhttp-parser", "passthrough-parser");
  /** A Kubernetes resource quantity: a decimal number with an optional suffix, e.g. {@code 100}, {@code 1k}. */
  private static final Pattern QUANTITY =
      Pattern.compile("(\\d+(\\.\\d*)?|\\.\\d+)([eE]\\d+|Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?");
  static final String DEFAULT_SATURATION_DETECTOR = "utilization-detector";
  static final String PREFIX_CACHE_SCORER = "prefix-cache-scorer";
  static final String PREFIX_CACHE_PRODUCER = "approx-prefix-cache-producer";
  static final String PREFIX_CACHE_AFFINITY_FILTER = "prefix-cache-affinity-filter";

  private final PluginRegistry registry;
  private final Ticker ticker;
  private final RandomGenerator random;
  private final MetricsRecorder metrics;
  private final ScheduledExecutorService scheduler;
  private final String source;
  private final boolean allowExperimental;
  private final EndpointPickerConfig running; // whose unchanged plugins are reused, or null
  private YamlTree tree;
  private ConfigDialect dialect;
  private final Map<String, Plugin> plugins = new LinkedHashMap<>();
  private final Map<String, EndpointPickerConfig.Origin> origins = new LinkedHashMap<>();
  private final Set<Plugin> reused = Collections.newSetFromMap(new IdentityHashMap<>());
  /**
   * Plugins declared under {@code plugins} and not created yet: created in their order, or earlier when a plugin
   * created before looks them up through its {@link PluginHandle} (as llm-d, declaration order does not matter).
   */
  private final Map<String, Declared> declared = new LinkedHashMap<>();

  private record Declared(PluginSpec spec, String path) {}

  /**
   * A binder whose plugins get {@code random} (each thread's own random source if {@code null}), {@code metrics} and
   * {@code scheduler} (the shared default if {@code null}); {@linkplain dev.epp.api.PluginFactory#experimental()
   * experimental} plugin types are refused unless {@code allowExperimental}; a plugin of {@code running} (if not
   * {@code null}) whose name, type, parameters and dialect are unchanged, and whose plugins looked up through its
   * {@link PluginHandle} are themselves reused, is reused rather than created.
   */
  ConfigBinder(PluginRegistry registry, Ticker ticker, RandomGenerator random, MetricsRecorder metrics,
      ScheduledExecutorService scheduler, String source, boolean allowExperimental, EndpointPickerConfig running) {
    this.allowExperimental = allowExperimental;
    this.running = running;
    this.registry = registry;
    this.ticker = ticker;
    this.random = random;
    this.metrics = metrics;
    this.scheduler = scheduler;
    this.source = source;
  }

  /**
   * Binds {@code yaml}; if that fails, closes the {@link AutoCloseable} plugins created so far (such as one that
   * started threads), in reverse order, before rethrowing; reused plugins are left alone.
   */
  EndpointPickerConfig bind(String yaml) {
    try {
      return bindAll(yaml);
    } catch (RuntimeException e) {
      List<Plugin> created = new ArrayList<>(plugins.values());
      for (int i = created.size() - 1; i >= 0; i--) {
        if (created.get(i) instanceof AutoCloseable closeable && !reused.contains(created.get(i))) {
          try {
            closeable.close();
          } catch (Exception suppressed) {
            e.addSuppressed(suppressed);
          }
        }
      }
      throw e;
    }
  }

  private EndpointPickerConfig bindAll(String yaml) {
    try {
      tree = YamlTree.parse(yaml);
    } catch (YamlTree.InvalidYamlException e) {
      throw located(e.location(), e.path(), e.getMessage());
    }
    Map<String, Object> root = object(tree.root(), "");
    checkKeys(root, "", "apiVersion", "kind", "plugins", "schedulingProfiles", "featureGates",
        "saturationDetector", "parser", "requestHandler", "dataLayer", "flowControl");

    String apiVersion = requiredString(root, "", "apiVersion");
    if (!API_VERSIONS.contains(apiVersion)) {
      throw fail("apiVersion", "unsupported apiVersion '" + apiVersion + "'; expected one of " + sorted(API_VERSIONS));
    }
    dialect = apiVersion.equals(API_VERSION) ? ConfigDialect.LLM_D : ConfigDialect.GIE;
    if (apiVersion.equals(DEPRECATED_API_VERSION) && !source.equals(DEFAULT_SOURCE)) {
      log.info("{}: DEPRECATION: apiVersion {} is deprecated; use {}", source, DEPRECATED_API_VERSION, API_VERSION);
    }
    String kind = requiredString(root, "", "kind");
    if (!KIND.equals(kind)) {
      throw fail("kind", "unsupported kind '" + kind + "'; expected " + KIND);
    }
    Set<String> featureGates = featureGates(root);

    bindPlugins(list(root.get("plugins"), "plugins"));
    List<SchedulingProfile> profiles = bindProfiles(root.get("schedulingProfiles"));
    ProfileHandler handler = profileHandler(profiles);
    List<RequestParser> parsers = bindParsers(root);
    Map<String, Object> flowControl = root.get("flowControl") == null ? Map.of() : object(root.get("flowControl"),
        "flowControl");
    SaturationDetector detector = saturationDetector(root, flowControl);
    FlowControlConfig flowControlConfig = bindFlowControl(flowControl, featureGates.contains("flowControl"));
    bindDataLayer(root.get("dataLayer"));
    return new EndpointPickerConfig(List.copyOf(plugins.values()), profiles, handler, featureGates, parsers, detector,
        flowControlConfig, handle(new ArrayList<>()).scheduler(), metrics, origins, reused);
  }

  /**
   * {@code requestHandler.parsers}, else the deprecated top-level {@code parser} (as in llm-d, the new field wins),
   * else llm-d's default parsers that are registered, created with default parameters if not configured; a
   * {@code passthrough-parser} if none is.
   */
  private List<RequestParser> bindParsers(Map<String, Object> root) {
    List<RequestParser> parsers = new ArrayList<>();
    if (root.get("requestHandler") != null) {
      Map<String, Object> handler = object(root.get("requestHandler"), "requestHandler");
      checkKeys(handler, "requestHandler", "parsers");
      List<Object> refs = list(handler.get("parsers"), "requestHandler.parsers");
      for (int i = 0; i < refs.size(); i++) {
        parsers.add(pluginRef(refs.get(i), "requestHandler.parsers[" + i + "]", RequestParser.class));
      }
    }
    if (root.get("parser") != null) {
      log.info("{}: DEPRECATION: top-level parser is deprecated, use requestHandler.parsers instead; if both are set,"
          + " requestHandler.parsers is used", source);
      RequestParser parser = pluginRef(root.get("parser"), "parser", RequestParser.class);
      if (parsers.isEmpty()) {
        parsers.add(parser);
      }
    }
    if (parsers.isEmpty()) {
      for (String type : DEFAULT_PARSERS) {
        if (plugins.containsKey(type) || registry.factory(type).isPresent()) {
          if (!plugins.containsKey(type)) {
            create(PluginSpec.of(type), "plugins");
          }
          parsers.add(plugin(type, "requestHandler.parsers", RequestParser.class));
        }
      }
    }
    if (parsers.isEmpty()) {
      parsers.add(new PassthroughParser(PassthroughParser.TYPE));
    }
    return parsers;
  }

  /**
   * {@code flowControl.saturationDetector}, else the deprecated top-level {@code saturationDetector} (as in llm-d, the
   * new field wins; both are honoured without the flowControl feature gate), else the default detector.
   */
  private SaturationDetector saturationDetector(Map<String, Object> root, Map<String, Object> flowControl) {
    if (root.get("saturationDetector") != null) {
      log.info("{}: DEPRECATION: top-level saturationDetector is deprecated, use flowControl.saturationDetector"
          + " instead; if both are set, flowControl.saturationDetector is used", source);
      SaturationDetector detector = pluginRef(root.get("saturationDetector"), "saturationDetector",
          SaturationDetector.class);
      if (flowControl.get("saturationDetector") == null) {
        return detector;
      }
    }
    if (flowControl.get("saturationDetector") != null) {
      return pluginRef(flowControl.get("saturationDetector"), "flowControl.saturationDetector",
          SaturationDetector.class);
    }
    if (!plugins.containsKey(DEFAULT_SATURATION_DETECTOR)) {
      if (registry.factory(DEFAULT_SATURATION_DETECTOR).isEmpty()) {
        return null;
      }
      create(PluginSpec.of(DEFAULT_SATURATION_DETECTOR), "plugins");
    }
    return plugin(DEFAULT_SATURATION_DETECTOR, "saturationDetector", SaturationDetector.class);
  }

  /**
   * llm-d's {@code flowControl} settings, validated; bound when the {@code flowControl} feature gate is on, else
   * ignored with a warning (only the saturation detector is honoured), as llm-d does.
   *
   * @return the settings, or {@code null} when the gate is off
   */
  private FlowControlConfig bindFlowControl(Map<String, Object> flowControl, boolean enabled) {
    checkKeys(flowControl, "flowControl", "maxBytes", "maxRequests", "defaultRequestTTL", "noEndpointRequestTTL",
        "defaultPriorityBand", "defaultNegativePriorityBand", "priorityBands", "usageLimitPolicyPluginRef",
        "saturationDetector", "enableEviction");
    long maxBytes = quantity(flowControl, "flowControl", "maxBytes");
    long maxRequests = quantity(flowControl, "flowControl", "maxRequests");
    Duration defaultTtl = duration(flowControl, "flowControl", "defaultRequestTTL");
    Duration noEndpointTtl = duration(flowControl, "flowControl", "noEndpointRequestTTL");
    FlowControlConfig.Band template = flowControl.get("defaultPriorityBand") == null ? FlowControlConfig.Band.of(0)
        : band(flowControl.get("defaultPriorityBand"), "flowControl.defaultPriorityBand");
    FlowControlConfig.Band negative = flowControl.get("defaultNegativePriorityBand") == null ? null
        : band(flowControl.get("defaultNegativePriorityBand"), "flowControl.defaultNegativePriorityBand");
    List<Object> rawBands = list(flowControl.get("priorityBands"), "flowControl.priorityBands");
    List<FlowControlConfig.Band> bands = new ArrayList<>();
    Map<Integer, String> priorities = new LinkedHashMap<>();
    for (int i = 0; i < rawBands.size(); i++) {
      String path = "flowControl.priorityBands[" + i + "]";
      if (object(rawBands.get(i), path).get("priority") == null) {
        throw fail(path, "missing required field 'priority'");
      }
      FlowControlConfig.Band band = band(rawBands.get(i), path);
      String first = priorities.putIfAbsent(band.priority(), path);
      if (first != null) {
        throw fail(path + ".priority", "duplicate priority " + band.priority() + " (first at " + first + ")");
      }
      bands.add(band);
    }
    UsageLimitPolicy usageLimit = flowControl.get("usageLimitPolicyPluginRef") == null ? null
        : plugin(requiredString(flowControl, "flowControl", "usageLimitPolicyPluginRef"),
            "flowControl.usageLimitPolicyPluginRef", UsageLimitPolicy.class);
    Object eviction = flowControl.get("enableEviction");
    if (eviction != null && !(eviction instanceof Boolean)) {
      throw fail("flowControl.enableEviction", "expected true or false, got " + describe(eviction));
    }
    if (Boolean.TRUE.equals(eviction)) {
      log.warn("{}: flowControl.enableEviction is ignored: this EPP does not evict dispatched requests", source);
    }
    if (!enabled) {
      Set<String> settings = new java.util.TreeSet<>(flowControl.keySet());
      settings.remove("saturationDetector");
      if (!settings.isEmpty()) {
        log.warn("{}: flowControl settings {} are ignored: the flowControl feature gate is off", source, settings);
      }
      return null;
    }
    FlowControlConfig defaults = FlowControlConfig.defaults();
    Duration ttl = defaultTtl != null ? defaultTtl : defaults.defaultRequestTTL();
    return defaults
        .withGlobalLimits(maxRequests, maxBytes)
        .withTtls(ttl, noEndpointTtl != null ? noEndpointTtl : ttl)
        .withBands(template, negative, bands)
        .withUsageLimit(usageLimit);
  }

  /** A priority band (or band template, whose priority defaults to 0) with its policies resolved. */
  private FlowControlConfig.Band band(Object raw, String path) {
    Map<String, Object> band = object(raw, path);
    checkKeys(band, path, "priority", "maxBytes", "maxRequests", "fairnessPolicyRef", "orderingPolicyRef");
    Object priority = band.get("priority");
    if (priority != null && !(priority instanceof Integer)) {
      throw fail(path + ".priority", "expected an integer, got " + describe(priority));
    }
    long maxBytes = quantity(band, path, "maxBytes");
    long maxRequests = quantity(band, path, "maxRequests");
    FairnessPolicy fairness = band.get("fairnessPolicyRef") == null ? null
        : plugin(requiredString(band, path, "fairnessPolicyRef"), path + ".fairnessPolicyRef", FairnessPolicy.class);
    OrderingPolicy ordering = band.get("orderingPolicyRef") == null ? null
        : plugin(requiredString(band, path, "orderingPolicyRef"), path + ".orderingPolicyRef", OrderingPolicy.class);
    return new FlowControlConfig.Band(priority == null ? 0 : (Integer) priority, maxRequests, maxBytes, fairness,
        ordering);
  }

  /** A Kubernetes quantity such as {@code 100}, {@code 1k} or {@code 1Gi}, as a whole number; 0 if absent. */
  private long quantity(Map<String, Object> map, String path, String key) {
    Object value = map.get(key);
    if (value == null) {
      return 0;
    }
    double amount = Double.NaN;
    if (value instanceof Integer || value instanceof Long) {
      amount = ((Number) value).doubleValue();
    } else if (value instanceof String s) {
      Matcher m = QUANTITY.matcher(s);
      if (m.matches()) {
        amount = Double.parseDouble(m.group(1)) * quantityMultiplier(m.group(3));
      }
    }
    if (!(amount >= 0) || amount > Long.MAX_VALUE || amount != Math.rint(amount)) {
      throw fail(child(path, key), "expected a quantity such as 100, \"1k\" or \"1Gi\", got "
          + describe(value));
    }
    return (long) amount;
  }

  private static double quantityMultiplier(String suffix) {
    if (suffix == null) {
      return 1;
    }
    if (suffix.length() > 1 && Character.isDigit(suffix.charAt(1))) {
      return Math.pow(10, Integer.parseInt(suffix.substring(1)));
    }
    int binary = "KMGTPE".indexOf(suffix.charAt(0)) + 1;
    if (suffix.endsWith("i")) {
      return Math.pow(1024, binary);
    }
    return switch (suffix) {
      case "m" -> 0.001;
      case "k" -> 1e3;
      default -> Math.pow(1000, binary);
    };
  }

  /** A Go duration such as {@code 200ms} or {@code 1m}, not negative; {@code null} if absent. */
  private Duration duration(Map<String, Object> map, String path, String key) {
    Object value = map.get(key);
    if (value == null) {
      return null;
    }
    String at = child(path, key);
    try {
      Duration duration = GoDuration.parse(string(value, at));
      if (!duration.isNegative()) {
        return duration;
      }
    } catch (IllegalArgumentException e) {
      // reported below
    }
    throw fail(at, "expected a duration such as \"200ms\" or \"1m\", not negative, got " + describe(value));
  }

  private Set<String> featureGates(Map<String, Object> root) {
    Set<String> gates = new LinkedHashSet<>();
    List<Object> raw = list(root.get("featureGates"), "featureGates");
    for (int i = 0; i < raw.size(); i++) {
      String path = "featureGates[" + i + "]";
      String gate = string(raw.get(i), path);
      if (!FEATURE_GATES.contains(gate)) {
        throw fail(path, "unknown feature gate '" + gate + "'; known gates: " + sorted(FEATURE_GATES));
      }
      gates.add(gate);
    }
    return gates;
  }

  private void bindPlugins(List<Object> entries) {
    Map<String, String> definedAt = new LinkedHashMap<>();
    String producer = null;
    String scorerPath = null;
    String filterPath = null;
    Map<String, Object> scorerParameters = Map.of();
    for (int i = 0; i < entries.size(); i++) {
      String path = "plugins[" + i + "]";
      Map<String, Object> entry = object(entries.get(i), path);
      checkKeys(entry, path, "name", "type", "parameters");
      String type = requiredString(entry, path, "type");
      String name = entry.get("name") != null ? string(entry.get("name"), path + ".name") : type;
      if (name.isBlank()) {
        throw fail(path + ".name", "plugin name must not be blank");
      }
      String first = definedAt.putIfAbsent(name, path);
      if (first != null) {
        throw fail(path + ".name", "duplicate plugin name '" + name + "' (first defined at " + first + ")");
      }
      if (registry.factory(type).isEmpty()) {
        throw fail(path + ".type",
            "unknown plugin type '" + type + "'; known types: " + String.join(", ", registry.types()));
      }
      if (registry.factory(type).get().experimental() && !allowExperimental) {
        throw fail(path + ".type", "plugin '" + name + "' (type " + type
            + ") is experimental (Alpha); start the EPP with --allow-experimental-plugins to use it");
      }
      Object rawParameters = entry.get("parameters");
      Map<String, Object> values = rawParameters == null ? Map.of() : object(rawParameters, path + ".parameters");
      declared.put(name, new Declared(new PluginSpec(name, type, Parameters.of(values)), path));
      if (type.equals(PREFIX_CACHE_PRODUCER) && producer == null) {
        producer = name;
      } else if (type.equals(PREFIX_CACHE_SCORER) && scorerPath == null) {
        scorerPath = path;
        scorerParameters = new LinkedHashMap<>(values);
        scorerParameters.keySet().removeAll(PrefixCacheScorer.OWN_PARAMETERS);
      } else if (type.equals(PREFIX_CACHE_AFFINITY_FILTER) && filterPath == null) {
        filterPath = path;
      }
    }
    for (String name : List.copyOf(declared.keySet())) {
      createDeclared(name);
    }
    if (producer == null) {
      producer = plugins.values().stream().filter(PrefixMatchProducer.class::isInstance)
          .map(plugin -> plugin.typedName().name()).findFirst().orElse(null);
    }
    if (scorerPath != null) {
      ensurePrefixCacheProducer(PREFIX_CACHE_SCORER, producer, scorerPath, scorerParameters);
    } else if (filterPath != null) {
      ensurePrefixCacheProducer(PREFIX_CACHE_AFFINITY_FILTER, producer, filterPath, Map.of());
    }
  }

  /**
   * Go step 5: a {@code prefix-cache-scorer} without any {@code approx-prefix-cache-producer} (nor other
   * {@link PrefixMatchProducer}, such as {@code precise-prefix-cache-producer}) gets one, named after
   * its type and created from the (first) scorer's producer parameters (all but
   * {@link PrefixCacheScorer#OWN_PARAMETERS}); errors point at that consumer's entry. With an explicit producer the
   * scorer's producer parameters would be ignored (silently, in Go), so they are an error here. A
   * {@code prefix-cache-affinity-filter} without a scorer or producer gets one with the default parameters, as llm-d
   * creates a default producer for the data a plugin consumes.
   *
   * @param consumer the type of the plugin the producer is created for
   * @param producer the name of the first configured producer, or {@code null}
   */
  private void ensurePrefixCacheProducer(
      String consumer, String producer, String consumerPath, Map<String, Object> producerParameters) {
    if (producer != null) {
      if (!producerParameters.isEmpty()) {
        throw fail(consumerPath + ".parameters", "the parameters of a " + PREFIX_CACHE_SCORER + " configure the "
            + PREFIX_CACHE_PRODUCER + " created for it, but '" + producer + "' is configured explicitly; "
            + "set them on '" + producer + "' instead");
      }
      return;
    }
    if (registry.factory(PREFIX_CACHE_PRODUCER).isEmpty()) {
      return;
    }
    if (plugins.containsKey(PREFIX_CACHE_PRODUCER)) {
      throw fail(consumerPath, consumer + " needs a plugin named '" + PREFIX_CACHE_PRODUCER
          + "' of that type, but another plugin has that name");
    }
    create(new PluginSpec(PREFIX_CACHE_PRODUCER, PREFIX_CACHE_PRODUCER, Parameters.of(producerParameters)), consumerPath);
  }

  /** Creates the declared plugin {@code name} unless it is created or being created; {@code null} then. */
  private Plugin createDeclared(String name) {
    Declared plugin = declared.remove(name);
    return plugin == null ? null : create(plugin.spec(), plugin.path());
  }

  private Plugin create(PluginSpec spec, String path) {
    Plugin kept = reusable(spec);
    if (kept != null) {
      plugins.put(spec.name(), kept);
      origins.put(spec.name(), running.origin(spec.name()));
      reused.add(kept);
      return kept;
    }
    try {
      List<String> lookups = new ArrayList<>();
      Plugin plugin = registry.create(spec, handle(lookups));
      plugins.put(spec.name(), plugin);
      origins.put(spec.name(), new EndpointPickerConfig.Origin(spec, dialect, List.copyOf(lookups)));
      return plugin;
    } catch (PluginConfigException e) {
      String at = e.parameter() == null ? path : path + ".parameters." + e.parameter();
      throw fail(at, "plugin '" + spec.name() + "' (type " + spec.type() + "): " + e.getMessage());
    }
  }

  private List<SchedulingProfile> bindProfiles(Object raw) {
    List<Object> entries = list(raw, "schedulingProfiles");
    List<SchedulingProfile> profiles = new ArrayList<>();
    if (entries.isEmpty()) {
      profiles.add(defaultProfile());
      return profiles;
    }
    Map<String, String> definedAt = new LinkedHashMap<>();
    for (int i = 0; i < entries.size(); i++) {
      String path = "schedulingProfiles[" + i + "]";
      Map<String, Object> entry = object(entries.get(i), path);
      checkKeys(entry, path, "name", "plugins");
      String name = requiredString(entry, path, "name");
      String first = definedAt.putIfAbsent(name, path);
      if (first != null) {
        throw fail(path + ".name", "duplicate profile name '" + name + "' (first defined at " + first + ")");
      }
      profiles.add(bindProfile(name, list(entry.get("plugins"), path + ".plugins"), path));
    }
    return profiles;
  }

  private SchedulingProfile bindProfile(String name, List<Object> refs, String path) {
    List<Filter> filters = new ArrayList<>();
    List<WeightedScorer> scorers = new ArrayList<>();
    Picker picker = null;
    for (int j = 0; j < refs.size(); j++) {
      String refPath = path + ".plugins[" + j + "]";
      Map<String, Object> ref = object(refs.get(j), refPath);
      checkKeys(ref, refPath, "pluginRef", "weight");
      String pluginRef = requiredString(ref, refPath, "pluginRef");
      Plugin plugin = plugins.get(pluginRef);
      if (plugin == null) {
        throw fail(refPath + ".pluginRef", "no plugin named '" + pluginRef + "' is defined");
      }
      boolean slotted = false;
      if (plugin instanceof Filter filter) {
        filters.add(filter);
        slotted = true;
      }
      if (plugin instanceof Scorer scorer) {
        scorers.add(new WeightedScorer(scorer, weight(ref.get("weight"), refPath + ".weight")));
        slotted = true;
      }
      if (plugin instanceof Picker p) {
        if (picker != null) {
          throw fail(refPath + ".pluginRef", "profile '" + name + "' already has picker '"
              + picker.typedName().name() + "'; a profile has one picker");
        }
        picker = p;
        slotted = true;
      }
      if (!slotted) {
        throw fail(refPath + ".pluginRef",
            "plugin '" + pluginRef + "' (type " + plugin.typedName().type() + ") is not a filter, scorer or picker");
      }
    }
    return new SchedulingProfile(name, filters, scorers, picker == null ? defaultPicker() : picker);
  }

  /** Go step 6a: no profiles gives one profile {@code default} with every filter, scorer and picker, weight 1. */
  private SchedulingProfile defaultProfile() {
    List<Object> refs = new ArrayList<>();
    for (Plugin plugin : plugins.values()) {
      if (plugin instanceof Filter || plugin instanceof Scorer || plugin instanceof Picker) {
        refs.add(Map.of("pluginRef", plugin.typedName().name()));
      }
    }
    return bindProfile("default", refs, "schedulingProfiles");
  }

  /** Go step 6c: the first configured picker, else a new {@code max-score-picker}. */
  private Picker defaultPicker() {
    for (Plugin plugin : plugins.values()) {
      if (plugin instanceof Picker picker) {
        return picker;
      }
    }
    return (Picker) create(PluginSpec.of(MAX_SCORE_PICKER), "plugins");
  }

  private ProfileHandler profileHandler(List<SchedulingProfile> profiles) {
    List<ProfileHandler> handlers = new ArrayList<>();
    for (Plugin plugin : plugins.values()) {
      if (plugin instanceof ProfileHandler handler) {
        handlers.add(handler);
      }
    }
    if (handlers.isEmpty() && profiles.size() == 1) {
      handlers.add((ProfileHandler) create(PluginSpec.of(SINGLE_PROFILE_HANDLER), "plugins"));
    }
    if (handlers.isEmpty()) {
      throw fail("plugins", "no profile handler configured; " + profiles.size() + " profiles need one");
    }
    if (handlers.size() > 1) {
      throw fail("plugins", "more than one profile handler configured: " + names(handlers));
    }
    ProfileHandler handler = handlers.get(0);
    if (handler.typedName().type().equals(SINGLE_PROFILE_HANDLER) && profiles.size() > 1) {
      throw fail("schedulingProfiles",
          SINGLE_PROFILE_HANDLER + " cannot run " + profiles.size() + " profiles; configure another profile handler");
    }
    return handler;
  }

  /** A section {@code {pluginRef: name}} at {@code path} naming a configured plugin of {@code type}. */
  private <T> T pluginRef(Object raw, String path, Class<T> type) {
    Map<String, Object> section = object(raw, path);
    checkKeys(section, path, "pluginRef");
    return plugin(requiredString(section, path, "pluginRef"), path + ".pluginRef", type);
  }

  private void bindDataLayer(Object raw) {
    if (raw == null) {
      return;
    }
    Map<String, Object> dataLayer = object(raw, "dataLayer");
    checkKeys(dataLayer, "dataLayer", "sources", "injectDefaults", "discovery", "peerDiscovery",
        "crossReplicaSyncerPluginRef", "crossReplicaSyncInterval");
    Object injectDefaults = dataLayer.get("injectDefaults");
    if (injectDefaults != null && !(injectDefaults instanceof Boolean)) {
      throw fail("dataLayer.injectDefaults", "expected true or false, got " + describe(injectDefaults));
    }
    for (String key : List.of("discovery", "peerDiscovery")) {
      if (dataLayer.get(key) != null) {
        pluginRef(dataLayer.get(key), "dataLayer." + key, Plugin.class);
      }
    }
    if (dataLayer.get("crossReplicaSyncerPluginRef") != null) {
      plugin(requiredString(dataLayer, "dataLayer", "crossReplicaSyncerPluginRef"),
          "dataLayer.crossReplicaSyncerPluginRef", Plugin.class);
    }
    duration(dataLayer, "dataLayer", "crossReplicaSyncInterval");
    Set<String> ignored = new java.util.TreeSet<>(dataLayer.keySet());
    ignored.remove("sources");
    if (Boolean.TRUE.equals(injectDefaults)) {
      ignored.remove("injectDefaults");
    }
    if (!ignored.isEmpty()) {
      log.warn("{}: dataLayer settings {} are ignored: not implemented by this EPP yet", source, ignored);
    }
    List<Object> sources = list(dataLayer.get("sources"), "dataLayer.sources");
    for (int i = 0; i < sources.size(); i++) {
      String path = "dataLayer.sources[" + i + "]";
      Map<String, Object> entry = object(sources.get(i), path);
      checkKeys(entry, path, "pluginRef", "extractors");
      plugin(requiredString(entry, path, "pluginRef"), path + ".pluginRef", Plugin.class);
      List<Object> extractors = list(entry.get("extractors"), path + ".extractors");
      for (int j = 0; j < extractors.size(); j++) {
        String extractorPath = path + ".extractors[" + j + "]";
        Map<String, Object> extractor = object(extractors.get(j), extractorPath);
        checkKeys(extractor, extractorPath, "pluginRef");
        plugin(requiredString(extractor, extractorPath, "pluginRef"), extractorPath + ".pluginRef", Plugin.class);
      }
    }
  }

  private <T> T plugin(String name, String path, Class<T> type) {
    Plugin plugin = plugins.get(name);
    if (plugin == null) {
      throw fail(path, "no plugin named '" + name + "' is defined");
    }
    if (!type.isInstance(plugin)) {
      throw fail(path, "plugin '" + name + "' (type " + plugin.typedName().type() + ") is not a "
          + type.getSimpleName());
    }
    return type.cast(plugin);
  }

  /**
   * The running configuration's plugin for {@code spec} if it can be reused: same spec and dialect, and each plugin
   * it looked up is (after being bound now) the same instance as then.
   */
  private Plugin reusable(PluginSpec spec) {
    EndpointPickerConfig.Origin before = running == null ? null : running.origin(spec.name());
    if (before == null || !before.spec().equals(spec) || before.dialect() != dialect) {
      return null;
    }
    for (String dependency : before.lookups()) {
      Plugin now = plugins.containsKey(dependency) ? plugins.get(dependency) : createDeclared(dependency);
      if (now != running.plugin(dependency).orElse(null)) { // absent then and now is the same
        return null;
      }
    }
    return running.plugin(spec.name()).orElse(null);
  }

  /** A handle for one plugin's factory; the names it looks up are added to {@code lookups}. */
  private PluginHandle handle(List<String> lookups) {
    return new PluginHandle() {
      @Override
      public Ticker ticker() {
        return ticker;
      }

      @Override
      public RandomGenerator random() {
        return random != null ? random : PluginHandle.super.random();
      }

      @Override
      public MetricsRecorder metrics() {
        return metrics;
      }

      @Override
      public ScheduledExecutorService scheduler() {
        return scheduler != null ? scheduler : PluginHandle.super.scheduler();
      }

      @Override
      public ConfigDialect dialect() {
        return dialect;
      }

      @Override
      public <T> Optional<T> plugin(String name, Class<T> type) {
        lookups.add(name);
        Plugin plugin = plugins.containsKey(name) ? plugins.get(name) : createDeclared(name);
        return type.isInstance(plugin) ? Optional.of(type.cast(plugin)) : Optional.empty();
      }
    };
  }

  private double weight(Object raw, String path) {
    if (raw == null) {
      return 1.0;
    }
    if (raw instanceof Number number) {
      double weight = number.doubleValue();
      if (weight >= 0 && !Double.isInfinite(weight)) {
        return weight;
      }
    }
    throw fail(path, "weight must be a finite number >= 0, got " + raw);
  }

  private void checkKeys(Map<String, Object> map, String path, String... allowed) {
    Set<String> known = Set.of(allowed);
    for (String key : map.keySet()) {
      if (!known.contains(key)) {
        throw fail(child(path, key), "unknown field '" + key + "'; expected one of " + sorted(known));
      }
    }
  }

  private String requiredString(Map<String, Object> map, String path, String key) {
    Object value = map.get(key);
    if (value == null) {
      throw fail(path, "missing required field '" + key + "'");
    }
    String s = string(value, child(path, key));
    if (s.isBlank()) {
      throw fail(child(path, key), "'" + key + "' must not be blank");
    }
    return s;
  }

  private String string(Object value, String path) {
    if (value instanceof String s) {
      return s;
    }
    throw fail(path, "expected a string, got " + describe(value));
  }

  @SuppressWarnings("unchecked")
  private Map<String, Object> object(Object value, String path) {
    if (value instanceof Map<?, ?> map) {
      return (Map<String, Object>) map;
    }
    throw fail(path, "expected an object, got " + describe(value));
  }

  @SuppressWarnings("unchecked")
  private List<Object> list(Object value, String path) {
    if (value == null) {
      return List.of();
    }
    if (value instanceof List<?> l) {
      return (List<Object>) l;
    }
    throw fail(path, "expected a list, got " + describe(value));
  }

  private ConfigException fail(String path, String message) {
    return located(tree == null ? "" : tree.location(path), path, message);
  }

  /** {@code source:line:column: path: message}, leaving out an empty location or path. */
  private ConfigException located(String location, String path, String message) {
    return new ConfigException(source + (location.isEmpty() ? "" : ":" + location) + ": "
        + (path.isEmpty() ? "" : path + ": ") + message);
  }

  private static String child(String path, String key) {
    return path.isEmpty() ? key : path + "." + key;
  }

  private static String describe(Object value) {
    if (value == null) {
      return "nothing";
    }
    if (value instanceof Map) {
      return "an object";
    }
    if (value instanceof List) {
      return "a list";
    }
    return value instanceof String ? "\"" + value + "\"" : String.valueOf(value);
  }

  private static String sorted(Set<String> values) {
    return String.join(", ", new java.util.TreeSet<>(values));
  }

  private static String names(List<? extends Plugin> plugins) {
    List<String> names = new ArrayList<>();
    for (Plugin plugin : plugins) {
      names.add(plugin.typedName().name());
    }
    return String.join(", ", names);
  }
}
