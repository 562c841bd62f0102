package dev.epp.scheduler;

import dev.epp.api.ConfigDialect;
import dev.epp.api.EndpointStore;
import dev.epp.api.MetricsRecorder;
import dev.epp.api.Plugin;
import dev.epp.api.PluginSpec;
import dev.epp.api.Ticker;
import dev.epp.api.requestcontrol.RequestParser;
import dev.epp.api.requestcontrol.SaturationDetector;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.ProfileHandler;
import dev.epp.scheduler.flowcontrol.FlowControlConfig;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.random.RandomGenerator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A loaded, validated {@code EndpointPickerConfig}: the plugin instances, the scheduling profiles and the profile
 * handler, with the Go EPP's defaulting applied (plugin names default to their type; no profiles gives one profile
 * {@code default} with every filter, scorer and picker; one profile and no handler adds
 * {@code single-profile-handler}; no picker adds {@code max-score-picker}; scorer weights default to 1; a
 * {@code prefix-cache-scorer} without an {@code approx-prefix-cache-producer} (or other prefix-match producer) gets
 * one with the scorer's parameters,
 * a {@code prefix-cache-affinity-filter} without either gets one with the defaults).
 *
 * <p>The {@code apiVersion} is {@code llm-d.ai/v1alpha1}; the deprecated {@code inference.networking.x-k8s.io/v1alpha1}
 * still loads, with a deprecation notice in the log. A configuration behaves as under the EPP its {@code apiVersion}
 * names: where llm-d's and the GIE v1.5 EPP's parameter defaults differ, {@code llm-d.ai/v1alpha1} gets llm-d's and
 * the deprecated form GIE's ({@link dev.epp.api.PluginHandle#dialect()}). The kind is {@code EndpointPickerConfig}. Loading is strict: an unknown field, unknown plugin type, unknown
 * parameter, duplicate name or dangling {@code pluginRef} is a {@link ConfigException} naming where it is.
 *
 * <p><b>Threading:</b> immutable and thread-safe once loaded.
 */
public final class EndpointPickerConfig {

  private static final Logger log = LoggerFactory.getLogger(EndpointPickerConfig.class);

  private final AtomicBoolean closed = new AtomicBoolean();

  /** The default profile's scorers and weights (Go v1.5 {@code loadDefaultConfig}), in order. */
  private static final Map<String, Integer> DEFAULT_SCORERS = defaultScorers();

  private final List<Plugin> plugins;
  private final List<SchedulingProfile> profiles;
  private final ProfileHandler profileHandler;
  private final Set<String> featureGates;
  private final ParserRegistry parsers;
  private final SaturationDetector saturationDetector;
  private final FlowControlConfig flowControl;
  private final ScheduledExecutorService scheduler;
  private final MetricsRecorder metrics;
  private final Map<String, Origin> origins;
  private final Set<Plugin> reused;

  /**
   * How a plugin instance was made: its spec, the dialect of its configuration and the plugins its factory looked up.
   */
  record Origin(PluginSpec spec, ConfigDialect dialect, List<String> lookups) {}

  private static Map<String, Integer> defaultScorers() {
    Map<String, Integer> scorers = new LinkedHashMap<>();
    scorers.put("queue-scorer", 2);
    scorers.put("kv-cache-utilization-scorer", 2);
    scorers.put("prefix-cache-scorer", 3);
    return Collections.unmodifiableMap(scorers);
  }

  /** Assembled by the configuration binder. */
  EndpointPickerConfig(
      List<Plugin> plugins,
      List<SchedulingProfile> profiles,
      ProfileHandler profileHandler,
      Set<String> featureGates,
      List<RequestParser> parsers,
      SaturationDetector saturationDetector,
      FlowControlConfig flowControl,
      ScheduledExecutorService scheduler,
      MetricsRecorder metrics,
      Map<String, Origin> origins,
      Set<Plugin> reused) {
    this.plugins = List.copyOf(plugins);
    this.profiles = List.copyOf(profiles);
    this.profileHandler = Objects.requireNonNull(profileHandler);
    this.featureGates = Set.copyOf(featureGates);
    if (parsers.isEmpty()) {
      throw new IllegalArgumentException("no parser");
    }
    this.parsers = new ParserRegistry(parsers);
    this.saturationDetector = saturationDetector;
    this.flowControl = flowControl;
    this.scheduler = Objects.requireNonNull(scheduler);
    this.metrics = Objects.requireNonNull(metrics);
    this.origins = Map.copyOf(origins);
    Set<Plugin> kept = Collections.newSetFromMap(new IdentityHashMap<>());
    kept.addAll(reused);
    this.reused = Collections.unmodifiableSet(kept);
  }

  /**
   * Loads a configuration from YAML text with the {@linkplain PluginRegistry#defaultRegistry() default registry}.
   *
   * @throws ConfigException if the document is invalid
   */
  public static EndpointPickerConfig parse(String yaml) {
    return loader().parse(yaml, "<config-text>");
  }

  /** The configuration used when none is given, built with the default registry. */
  public static EndpointPickerConfig defaults() {
    return loader().defaults();
  }

  /** A loader, to choose the registry and ticker. */
  public static Loader loader() {
    return new Loader();
  }

  /** Every plugin instance, configured and defaulted, in configuration order. */
  public List<Plugin> plugins() {
    return plugins;
  }

  /** The plugin with the given instance name. */
  public Optional<Plugin> plugin(String name) {
    for (Plugin plugin : plugins) {
      if (plugin.typedName().name().equals(name)) {
        return Optional.of(plugin);
      }
    }
    return Optional.empty();
  }

  /** Every plugin implementing {@code extensionPoint}, in configuration order. */
  public <T> List<T> plugins(Class<T> extensionPoint) {
    List<T> out = new ArrayList<>();
    for (Plugin plugin : plugins) {
      if (extensionPoint.isInstance(plugin)) {
        out.add(extensionPoint.cast(plugin));
      }
    }
    return List.copyOf(out);
  }

  /**
   * Registers every plugin that implements {@link EndpointStore.Listener} (such as the prefix-cache producer, which
   * forgets endpoints that leave) with {@code store}, and tells each of the endpoints already there (a store does not
   * replay them; an endpoint added meanwhile may be told twice). Call it once, right after creating the store for
   * this configuration; the request director does. Plugins {@linkplain #reused() reused} from a running
   * configuration are skipped: they already listen to the store of that configuration.
   */
  public void listenTo(EndpointStore store) {
    for (EndpointStore.Listener listener : plugins(EndpointStore.Listener.class)) {
      if (reused.contains(listener)) {
        continue;
      }
      store.addListener(listener);
      Candidates present = store.snapshot();
      for (int i = 0; i < present.size(); i++) {
        listener.added(present.endpoint(i));
      }
    }
  }

  /**
   * Closes every plugin that is {@link AutoCloseable} (such as one holding threads or sockets), in reverse
   * configuration order; a failure is logged and the others are still closed. Idempotent: later calls do nothing.
   */
  public void close() {
    if (closed.getAndSet(true)) {
      return;
    }
    for (int i = plugins.size() - 1; i >= 0; i--) {
      closeQuietly(plugins.get(i));
    }
  }

  /**
   * The plugin instances taken over from the configuration this one was {@linkplain Loader#reusing loaded reusing}
   * (name, type, parameters and dialect unchanged), by identity; empty otherwise.
   */
  public Set<Plugin> reused() {
    return reused;
  }

  /**
   * Retires this configuration in favour of {@code successor}: each plugin that {@code successor} does not hold (by
   * identity) stops listening to {@code store} and is closed if {@link AutoCloseable}, in reverse configuration order
   * (a failure is logged); plugins {@code successor} holds are left alone. Also undoes a configuration that was
   * loaded reusing {@code successor} and then refused. Idempotent, like {@link #close()}.
   */
  public void retire(EndpointPickerConfig successor, EndpointStore store) {
    if (closed.getAndSet(true)) {
      return;
    }
    Set<Plugin> kept = Collections.newSetFromMap(new IdentityHashMap<>());
    kept.addAll(successor.plugins);
    for (int i = plugins.size() - 1; i >= 0; i--) {
      Plugin plugin = plugins.get(i);
      if (kept.contains(plugin)) {
        continue;
      }
      if (plugin instanceof EndpointStore.Listener listener) {
        store.removeListener(listener);
      }
      closeQuietly(plugin);
    }
  }

  private static void closeQuietly(Plugin plugin) {
    if (plugin instanceof AutoCloseable closeable) {
      try {
        closeable.close();
      } catch (Exception e) {
        log.warn("Closing plugin {} failed", plugin.typedName(), e);
      }
    }
  }

  /** How the plugin {@code name} was made, or {@code null} if this configuration has no such plugin. */
  Origin origin(String name) {
    return origins.get(name);
  }

  /** The scheduling profiles, in configuration order. */
  public List<SchedulingProfile> profiles() {
    return profiles;
  }

  /** The one profile handler. */
  public ProfileHandler profileHandler() {
    return profileHandler;
  }

  /** The enabled feature gates. */
  public Set<String> featureGates() {
    return featureGates;
  }

  /**
   * The parsers in use: those of {@code requestHandler.parsers}, else of the deprecated {@code parser.pluginRef}, else
   * llm-d's defaults ({@code openai-parser}, {@code anthropic-parser}, {@code vllmhttp-parser},
   * {@code passthrough-parser}) that are registered, else a {@code passthrough-parser}; without the parsers skipped as
   * duplicates of a type or for following the fallback (see {@link ParserRegistry}). Never empty.
   */
  public List<RequestParser> parsers() {
    return parsers.parsers();
  }

  /** Selects each request's parser among {@link #parsers()} by its path. */
  ParserRegistry parserRegistry() {
    return parsers;
  }

  /** The saturation detector named by {@code saturationDetector.pluginRef}, or the default one if registered. */
  public Optional<SaturationDetector> saturationDetector() {
    return Optional.ofNullable(saturationDetector);
  }

  /**
   * The {@code flowControl} settings, present when the {@code flowControl} feature gate is on: requests then wait in
   * the EPP while the pool is saturated instead of being shed.
   */
  public Optional<FlowControlConfig> flowControl() {
    return Optional.ofNullable(flowControl);
  }

  /** The scheduler this configuration's plugins got ({@linkplain Loader#scheduler loaded} with, or the shared one). */
  public ScheduledExecutorService scheduler() {
    return scheduler;
  }

  /**
   * Where the request lifecycle, scheduling and plugin metrics of this configuration go: the recorder it was
   * {@linkplain Loader#metrics loaded} with, which its plugins also received.
   */
  public MetricsRecorder metrics() {
    return metrics;
  }

  /** Loads configurations with a chosen plugin registry, ticker and random source. Not thread-safe. */
  public static final class Loader {
    private PluginRegistry registry;
    private Ticker ticker = Ticker.system();
    private RandomGenerator random;
    private MetricsRecorder metrics = MetricsRecorder.noop();
    private ScheduledExecutorService scheduler;
    private boolean allowExperimentalPlugins;
    private EndpointPickerConfig running;

    private Loader() {}

    /**
     * Reuse the plugins of {@code value}, a configuration this loader's settings loaded and that still runs: a plugin
     * whose name, type, parameters and {@code apiVersion} dialect are unchanged (and whose plugins looked up by name
     * are themselves reused) keeps its instance and state, such as a prefix index, instead of being created anew. See
     * {@link EndpointPickerConfig#reused()} and {@link EndpointPickerConfig#retire}. Default: none, every plugin is
     * created.
     */
    public Loader reusing(EndpointPickerConfig value) {
      this.running = Objects.requireNonNull(value, "value");
      return this;
    }

    /**
     * Whether plugin types whose factory is {@linkplain dev.epp.api.PluginFactory#experimental() experimental} (llm-d's
     * Alpha) may be configured; default {@code false}, which makes naming one a {@link ConfigException}.
     */
    public Loader allowExperimentalPlugins(boolean value) {
      this.allowExperimentalPlugins = value;
      return this;
    }

    /** The registry to create plugins from; default {@link PluginRegistry#defaultRegistry()}. */
    public Loader registry(PluginRegistry value) {
      this.registry = Objects.requireNonNull(value);
      return this;
    }

    /** The ticker plugins judge metric freshness with; default {@link Ticker#system()}. */
    public Loader ticker(Ticker value) {
      this.ticker = Objects.requireNonNull(value);
      return this;
    }

    /**
     * The random source plugins make random choices with (pickers, tie-breaks); default each thread's
     * {@link java.util.concurrent.ThreadLocalRandom}. Must be thread-safe: a seeded {@link java.util.Random} makes a
     * single-threaded caller's scheduling reproducible.
     */
    public Loader random(RandomGenerator value) {
      this.random = Objects.requireNonNull(value);
      return this;
    }

    /**
     * Where the configuration's metrics go: the {@link Director}'s request metrics, the scheduler's and the plugins'
     * own ({@link dev.epp.api.PluginHandle#metrics()}); default {@link MetricsRecorder#noop()}.
     */
    public Loader metrics(MetricsRecorder value) {
      this.metrics = Objects.requireNonNull(value);
      return this;
    }

    /**
     * The scheduler plugins run background work on ({@link dev.epp.api.PluginHandle#scheduler()}); never shut down by
     * the configuration. Default: one daemon thread shared by the process.
     */
    public Loader scheduler(ScheduledExecutorService value) {
      this.scheduler = Objects.requireNonNull(value);
      return this;
    }

    /**
     * Loads YAML text; blank text means the {@linkplain #defaults() default configuration}, as in Go.
     *
     * @param source names the text in error messages, e.g. a file name
     * @throws ConfigException if the document is invalid
     */
    public EndpointPickerConfig parse(String yaml, String source) {
      if (yaml.isBlank()) {
        return defaults();
      }
      return binder(source).bind(yaml);
    }

    /**
     * Loads a YAML file, which must be UTF-8 text.
     *
     * @throws ConfigException if the file cannot be read, is not UTF-8 or is invalid
     */
    public EndpointPickerConfig load(Path file) {
      byte[] bytes;
      try {
        bytes = Files.readAllBytes(file);
      } catch (IOException e) {
        throw new ConfigException(file + ": cannot read configuration: " + e.getMessage());
      }
      return parse(bytes, file.toString());
    }

    /**
     * Loads YAML that must be UTF-8 text, such as a file's content.
     *
     * @param source names the text in error messages, e.g. a file name
     * @throws ConfigException if the bytes are not UTF-8 or the document is invalid
     */
    public EndpointPickerConfig parse(byte[] bytes, String source) {
      return parse(utf8(bytes, source), source);
    }

    /** {@code bytes} decoded as UTF-8; the first byte that is not UTF-8 is a {@link ConfigException} locating it. */
    private static String utf8(byte[] bytes, String source) {
      ByteBuffer in = ByteBuffer.wrap(bytes);
      try {
        return StandardCharsets.UTF_8.newDecoder().decode(in).toString();
      } catch (CharacterCodingException e) {
        int offset = in.position();
        int line = 1;
        int lineStart = 0;
        for (int i = 0; i < offset; i++) {
          if (bytes[i] == '\n') {
            line++;
            lineStart = i + 1;
          }
        }
        String before = new String(bytes, lineStart, offset - lineStart, StandardCharsets.UTF_8);
        int column = before.codePointCount(0, before.length()) + 1;
        throw new ConfigException(String.format(Locale.ROOT,
            "%s:%d:%d: not UTF-8 text (invalid byte 0x%02X at offset %d)",
            source, line, column, bytes[offset] & 0xff, offset));
      }
    }

    /**
     * The default configuration (Go v1.5 {@code loadDefaultConfig}): {@code queue-scorer} weight 2,
     * {@code kv-cache-utilization-scorer} weight 2 and {@code prefix-cache-scorer} weight 3 in one profile, plus the
     * defaulted handler, picker, parser and saturation detector. Plugin types that are not registered are left out.
     * Its {@code apiVersion} is GIE's, {@code inference.networking.x-k8s.io/v1alpha1}, so its plugins get the GIE v1.5
     * defaults ({@link dev.epp.api.ConfigDialect#GIE}).
     */
    public EndpointPickerConfig defaults() {
      return binder(ConfigBinder.DEFAULT_SOURCE).bind(defaultConfigText(registry()));
    }

    private ConfigBinder binder(String source) {
      return new ConfigBinder(registry(), ticker, random, metrics, scheduler, source, allowExperimentalPlugins,
          running);
    }

    private PluginRegistry registry() {
      return registry != null ? registry : PluginRegistry.defaultRegistry();
    }

    private static String defaultConfigText(PluginRegistry registry) {
      StringBuilder plugins = new StringBuilder();
      StringBuilder refs = new StringBuilder();
      for (Map.Entry<String, Integer> scorer : DEFAULT_SCORERS.entrySet()) {
        if (registry.factory(scorer.getKey()).isPresent()) {
          plugins.append("- type: ").append(scorer.getKey()).append('\n');
          refs.append("  - pluginRef: ").append(scorer.getKey()).append('\n');
          refs.append("    weight: ").append(scorer.getValue()).append('\n');
        }
      }
      return "apiVersion: " + ConfigBinder.DEPRECATED_API_VERSION + "\n"
          + "kind: EndpointPickerConfig\n"
          + "plugins:\n" + plugins
          + "schedulingProfiles:\n"
          + "- name: default\n"
          + "  plugins:\n" + refs;
    }
  }
}
