package dev.epp.metrics.scrape;

import dev.epp.api.Parameters;
import dev.epp.api.Plugin;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.TypedName;

/**
 * The {@code metrics-data-source} plugin of a Go {@code EndpointPickerConfig}'s {@code dataLayer}: where model servers
 * publish their metrics. The server configures the {@link MetricsScraper} from {@link #scheme()}, {@link #path()} and
 * {@link #insecureSkipVerify()}.
 *
 * <p>Parameters (the Go EPP's): {@code scheme} ({@code http} or {@code https}, default {@code http}), {@code path}
 * (default {@code /metrics}), {@code insecureSkipVerify} (default {@code true}, as in the Go EPP: with {@code https}
 * the model server's certificate is not verified unless this is set to {@code false}).
 *
 * <p><b>Threading:</b> immutable and thread-safe.
 */
public final class MetricsDataSource implements Plugin {

  /** The plugin type. */
  public static final String TYPE = "metrics-data-source";

  private final TypedName typedName;
  private final String scheme;
  private final String path;
  private final boolean insecureSkipVerify;

  private MetricsDataSource(String name, String scheme, String path, boolean insecureSkipVerify) {
    this.typedName = new TypedName(TYPE, name);
    this.scheme = scheme;
    this.path = path;
    this.insecureSkipVerify = insecureSkipVerify;
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  /** {@code http} or {@code https}. */
  public String scheme() {
    return scheme;
  }

  /** The metrics path, starting with {@code /}. */
  public String path() {
    return path;
  }

  /** Whether TLS certificates of model servers are accepted without verification. */
  public boolean insecureSkipVerify() {
    return insecureSkipVerify;
  }

  /** Creates {@link MetricsDataSource}s from configuration; registered with {@link java.util.ServiceLoader}. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public Plugin create(PluginSpec spec, PluginHandle handle) {
      Parameters p = spec.parameters();
      String scheme = p.getString("scheme", "http");
      if (!scheme.equals("http") && !scheme.equals("https")) {
        throw new PluginConfigException(
            "parameter 'scheme' must be \"http\" or \"https\", got \"" + scheme + "\"", "scheme");
      }
      String path = p.getString("path", "/metrics");
      if (!path.startsWith("/") || path.chars().anyMatch(c -> c <= ' ')) {
        throw new PluginConfigException(
            "parameter 'path' must start with '/' and contain no spaces, got \"" + path + "\"", "path");
      }
      return new MetricsDataSource(spec.name(), scheme, path, p.getBoolean("insecureSkipVerify", true));
    }
  }
}
