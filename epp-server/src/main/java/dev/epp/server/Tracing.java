package dev.epp.server;

import io.opentelemetry.api.baggage.propagation.W3CBaggagePropagator;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.propagation.ContextPropagators;
import io.opentelemetry.context.propagation.TextMapPropagator;
import io.opentelemetry.exporter.logging.LoggingSpanExporter;
import io.opentelemetry.exporter.otlp.trace.OtlpGrpcSpanExporter;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import java.net.URI;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * The OpenTelemetry SDK set up from {@code OTEL_*} environment variables as GIE's EPP does it: spans go through a batch
 * span processor to the console or, over OTLP gRPC, to a collector; W3C trace context and baggage propagate.
 *
 * <ul>
 *   <li>{@code OTEL_SERVICE_NAME}: the {@code service.name} resource attribute, default {@value #DEFAULT_SERVICE_NAME};
 *   <li>{@code OTEL_TRACES_EXPORTER}: {@code console} (default) or {@code otlp};
 *   <li>{@code OTEL_EXPORTER_OTLP_ENDPOINT}: the collector's OTLP gRPC endpoint, default {@value #DEFAULT_ENDPOINT}
 *       ({@code https} for TLS with the JVM's trust store);
 *   <li>{@code OTEL_TRACES_SAMPLER}: {@code parentbased_traceidratio} (default), {@code traceidratio},
 *       {@code always_on}, {@code always_off}, {@code parentbased_always_on} or {@code parentbased_always_off};
 *   <li>{@code OTEL_TRACES_SAMPLER_ARG}: the ratio of the ratio samplers, in [0, 1], default {@code 0.1}.
 * </ul>
 *
 * <p>Unlike GIE, which falls back to its defaults, an unknown exporter or sampler or a bad ratio is an error.
 */
public final class Tracing {

  /** {@code OTEL_SERVICE_NAME}'s default, GIE's. */
  public static final String DEFAULT_SERVICE_NAME = "gateway-api-inference-extension/epp";
  /** {@code OTEL_EXPORTER_OTLP_ENDPOINT}'s default, GIE's. */
  public static final String DEFAULT_ENDPOINT = "http://localhost:4317";
  /** {@code OTEL_TRACES_SAMPLER_ARG}'s default, GIE's. */
  public static final double DEFAULT_RATIO = 0.1;

  /** Where spans go. */
  public enum Exporter {
    /** Logged through {@code java.util.logging}, GIE's {@code console}. */
    CONSOLE,
    /** OTLP over gRPC to {@link Settings#endpoint()}. */
    OTLP
  }

  /**
   * The tracing settings.
   *
   * @param serviceName the {@code service.name} resource attribute
   * @param exporter where spans go
   * @param endpoint the OTLP gRPC endpoint, {@code http://host:port} or {@code https://host:port}
   * @param sampler which spans are recorded
   */
  public record Settings(String serviceName, Exporter exporter, URI endpoint, Sampler sampler) {

    /** Validates the settings. */
    public Settings {
      Objects.requireNonNull(serviceName, "serviceName");
      Objects.requireNonNull(exporter, "exporter");
      Objects.requireNonNull(sampler, "sampler");
      String scheme = endpoint.getScheme();
      if (!"http".equals(scheme) && !"https".equals(scheme) || endpoint.getHost() == null) {
        throw new IllegalArgumentException(
            "OTEL_EXPORTER_OTLP_ENDPOINT must be http://host:port or https://host:port, got " + endpoint);
      }
    }

    /**
     * The settings of the {@code OTEL_*} variables of {@code env}, each absent or empty one at its default.
     *
     * @throws IllegalArgumentException naming the variable, if a value is not valid
     */
    public static Settings fromEnvironment(Map<String, String> env) {
      String serviceName = value(env, "OTEL_SERVICE_NAME", DEFAULT_SERVICE_NAME);
      String exporterName = value(env, "OTEL_TRACES_EXPORTER", "console");
      Exporter exporter = switch (exporterName) {
        case "console" -> Exporter.CONSOLE;
        case "otlp" -> Exporter.OTLP;
        default -> throw new IllegalArgumentException(
            "OTEL_TRACES_EXPORTER must be console or otlp, got '" + exporterName + "'");
      };
      String endpoint = value(env, "OTEL_EXPORTER_OTLP_ENDPOINT", DEFAULT_ENDPOINT);
      URI uri;
      try {
        uri = URI.create(endpoint);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("OTEL_EXPORTER_OTLP_ENDPOINT is not a URL: '" + endpoint + "'", e);
      }
      return new Settings(serviceName, exporter, uri,
          sampler(value(env, "OTEL_TRACES_SAMPLER", "parentbased_traceidratio"), env.get("OTEL_TRACES_SAMPLER_ARG")));
    }

    private static String value(Map<String, String> env, String name, String fallback) {
      String value = env.get(name);
      return value == null || value.isBlank() ? fallback : value.trim();
    }

    private static Sampler sampler(String name, String argument) {
      return switch (name.toLowerCase(Locale.ROOT)) {
        case "always_on" -> Sampler.alwaysOn();
        case "always_off" -> Sampler.alwaysOff();
        case "traceidratio" -> Sampler.traceIdRatioBased(ratio(argument));
        case "parentbased_always_on" -> Sampler.parentBased(Sampler.alwaysOn());
        case "parentbased_always_off" -> Sampler.parentBased(Sampler.alwaysOff());
        case "parentbased_traceidratio" -> Sampler.parentBased(Sampler.traceIdRatioBased(ratio(argument)));
        default -> throw new IllegalArgumentException("OTEL_TRACES_SAMPLER must be one of always_on, always_off, "
            + "traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio; got '"
            + name + "'");
      };
    }

    private static double ratio(String argument) {
      if (argument == null || argument.isBlank()) {
        return DEFAULT_RATIO;
      }
      try {
        double ratio = Double.parseDouble(argument.trim());
        if (ratio >= 0 && ratio <= 1) {
          return ratio;
        }
      } catch (NumberFormatException e) {
        // reported below
      }
      throw new IllegalArgumentException("OTEL_TRACES_SAMPLER_ARG must be a number in [0, 1], got '" + argument + "'");
    }
  }

  private Tracing() {}

  /**
   * An SDK with {@code settings}; the caller closes it, which flushes the spans still batched.
   *
   * @throws IllegalArgumentException if {@code settings} is not valid
   */
  public static OpenTelemetrySdk openTelemetry(Settings settings) {
    SpanExporter exporter = switch (settings.exporter()) {
      case CONSOLE -> LoggingSpanExporter.create();
      case OTLP -> OtlpGrpcSpanExporter.builder()
          .setEndpoint(settings.endpoint().toString())
          .setComponentLoader(OtlpGrpcSender.LOADER)
          .build();
    };
    Resource resource = Resource.getDefault().merge(Resource.create(
        Attributes.of(AttributeKey.stringKey("service.name"), settings.serviceName())));
    return OpenTelemetrySdk.builder()
        .setTracerProvider(SdkTracerProvider.builder()
            .setResource(resource)
            .setSampler(settings.sampler())
            .addSpanProcessor(BatchSpanProcessor.builder(exporter).build())
            .build())
        .setPropagators(ContextPropagators.create(TextMapPropagator.composite(List.of(
            W3CTraceContextPropagator.getInstance(), W3CBaggagePropagator.getInstance()))))
        .build();
  }
}
