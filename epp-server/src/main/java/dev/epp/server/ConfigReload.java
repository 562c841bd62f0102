package dev.epp.server;

import dev.epp.api.Plugin;
import dev.epp.metrics.scrape.CoreMetricsExtractor;
import dev.epp.metrics.scrape.MetricsDataSource;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.scheduler.SchedulingProfile;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/** What a configuration reload may change, and what it changed, for {@link EppServer}. */
final class ConfigReload {

  private ConfigReload() {}

  /**
   * Why {@code next} cannot replace {@code running} while the server runs (what it changes that was wired at start:
   * the feature gates, the data-layer plugins the scraper was built from), or {@code null} if it can.
   */
  static String unchangeable(EndpointPickerConfig running, EndpointPickerConfig next) {
    if (!running.featureGates().equals(next.featureGates())) {
      return "the feature gates (" + sorted(running.featureGates()) + " to " + sorted(next.featureGates()) + ")";
    }
    if (!dataLayer(running).equals(dataLayer(next))) {
      return "the data-layer plugins (" + MetricsDataSource.TYPE + ", " + CoreMetricsExtractor.TYPE + ")";
    }
    return null;
  }

  /** The plugins the scraper takes its settings from, by identity (a reused plugin is the same instance). */
  private static List<Plugin> dataLayer(EndpointPickerConfig config) {
    List<Plugin> out = new ArrayList<>();
    for (Plugin plugin : config.plugins()) {
      if (plugin instanceof MetricsDataSource || plugin instanceof CoreMetricsExtractor) {
        out.add(plugin);
      }
    }
    return out;
  }

  /**
   * One line naming what {@code next} changes from {@code running}: the plugins added, replaced (same name, new
   * instance), kept (reused) and removed, by name, and the profiles if their names changed.
   */
  static String changes(EndpointPickerConfig running, EndpointPickerConfig next) {
    List<String> added = new ArrayList<>();
    List<String> replaced = new ArrayList<>();
    List<String> kept = new ArrayList<>();
    List<String> removed = new ArrayList<>();
    for (Plugin plugin : next.plugins()) {
      String name = plugin.typedName().name();
      Optional<Plugin> before = running.plugin(name);
      (before.isEmpty() ? added : before.get() == plugin ? kept : replaced).add(name);
    }
    for (Plugin plugin : running.plugins()) {
      if (next.plugin(plugin.typedName().name()).isEmpty()) {
        removed.add(plugin.typedName().name());
      }
    }
    List<String> from = running.profiles().stream().map(SchedulingProfile::name).toList();
    List<String> to = next.profiles().stream().map(SchedulingProfile::name).toList();
    return "plugins added " + added + ", replaced " + replaced + ", kept " + kept + ", removed " + removed
        + (from.equals(to) ? "; profiles " + to : "; profiles " + from + " to " + to);
  }

  private static List<String> sorted(Set<String> names) {
    return names.stream().sorted().toList();
  }
}
