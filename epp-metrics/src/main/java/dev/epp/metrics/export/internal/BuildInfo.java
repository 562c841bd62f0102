package dev.epp.metrics.export.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/**
 * The build's version ({@code build_ref}) and git commit, filtered into {@code build-info.properties} by Maven.
 *
 * @param buildRef the project version, or {@code ""}
 * @param commit the git commit id, or {@code ""} when built outside a git checkout
 */
public record BuildInfo(String buildRef, String commit) {

  private static final String RESOURCE = "/dev/epp/metrics/export/internal/build-info.properties";

  /** Reads the build's properties; unfiltered or missing values are {@code ""}. */
  public static BuildInfo load() {
    Properties properties = new Properties();
    try (InputStream in = BuildInfo.class.getResourceAsStream(RESOURCE)) {
      if (in != null) {
        properties.load(in);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + RESOURCE, e);
    }
    return new BuildInfo(value(properties, "build_ref"), value(properties, "commit"));
  }

  private static String value(Properties properties, String key) {
    String value = properties.getProperty(key, "");
    return value.startsWith("${") ? "" : value.strip();
  }
}
