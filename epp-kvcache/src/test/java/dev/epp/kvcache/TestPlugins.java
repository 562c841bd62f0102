package dev.epp.kvcache;

import dev.epp.api.Endpoint;
import dev.epp.api.Plugin;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.TypedName;
import dev.epp.api.requestcontrol.AsyncPrepareData;
import dev.epp.api.requestcontrol.TokenizedPrompt;
import dev.epp.api.scheduling.Candidates;
import dev.epp.scheduler.PluginRegistry;
import java.util.List;
import java.util.ServiceLoader;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/** Test-only plugin types for the producer and configuration tests, registered next to the built-ins. */
final class TestPlugins {

  /** What the recording producers' subscriptions were asked to do, in order. */
  static final List<String> CALLS = new CopyOnWriteArrayList<>();

  /** The last producer the registry created. */
  static volatile PrecisePrefixCacheProducer lastProducer;

  private static final java.util.concurrent.ScheduledExecutorService SCHEDULER =
      java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
        Thread thread = new Thread(r, "test-speculation");
        thread.setDaemon(true);
        return thread;
      });

  private TestPlugins() {}

  /**
   * The built-in registry plus: {@code test-token-producer} (stores each prompt character as a token id),
   * {@code precise-prefix-cache-producer} replaced by the real producer and parameters with subscriptions that record
   * their calls in {@link #CALLS}), and stand-ins of {@code token-producer} (no HTTP client) and of the types other
   * modules provide ({@code metrics-data-source}, {@code core-metrics-extractor}).
   */
  static PluginRegistry registry() {
    PluginRegistry registry = new PluginRegistry();
    for (PluginFactory factory : ServiceLoader.load(PluginFactory.class, TestPlugins.class.getClassLoader())) {
      if (!factory.type().equals(PrecisePrefixCacheProducer.TYPE) && !factory.type().equals(TokenProducer.TYPE)) {
        registry.register(factory);
      }
    }
    registry.register(factory("test-token-producer", spec -> new CharTokens(spec.typedName())));
    registry.register(factory(PrecisePrefixCacheProducer.TYPE, spec -> {
      PrecisePrefixConfig config = PrecisePrefixConfig.parse(spec.parameters());
      PrecisePrefixCacheProducer producer = new PrecisePrefixCacheProducer(spec.name(), config.index(),
          sink -> new Recording(), config.speculativeIndexing()
              ? new PrecisePrefixCacheProducer.Speculation(config.speculativeTtl(), SCHEDULER) : null);
      lastProducer = producer;
      return producer;
    }));
    for (String type : List.of(TokenProducer.TYPE, "metrics-data-source", "core-metrics-extractor")) {
      registry.register(factory(type, spec -> {
        spec.parameters().markAllRead();
        return spec::typedName;
      }));
    }
    return registry;
  }

  private static PluginFactory factory(String type, Function<PluginSpec, Plugin> create) {
    return new PluginFactory() {
      @Override
      public String type() {
        return type;
      }

      @Override
      public Plugin create(PluginSpec spec, PluginHandle handle) {
        return create.apply(spec);
      }
    };
  }

  /** Subscriptions that record their calls. */
  private static final class Recording implements PrecisePrefixCacheProducer.Subscriptions {
    @Override
    public void subscribe(Endpoint endpoint) {
      CALLS.add("subscribe " + endpoint.name());
    }

    @Override
    public void unsubscribe(String name) {
      CALLS.add("unsubscribe " + name);
    }

    @Override
    public void close() {
      CALLS.add("close");
    }
  }

  /** Stores the prompt's characters as its token ids. */
  private record CharTokens(TypedName typedName) implements AsyncPrepareData {
    @Override
    public CompletionStage<Void> prepareDataAsync(RequestContext context, Candidates candidates) {
      context.put(TokenizedPrompt.KEY, new TokenizedPrompt(tokens(context.request().body().prompt()), true));
      return CompletableFuture.completedFuture(null);
    }
  }

  /** The token ids {@code test-token-producer} stores for {@code prompt}. */
  static int[] tokens(String prompt) {
    return prompt.chars().toArray();
  }
}
