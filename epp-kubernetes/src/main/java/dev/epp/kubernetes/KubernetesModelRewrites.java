package dev.epp.kubernetes;

import dev.epp.api.requestcontrol.ModelRewrites;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.IntUnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Model-name rewrites from the {@code InferenceModelRewrite}s ({@code inference.networking.x-k8s.io/v1alpha2}) in
 * the pool's namespace whose {@code spec.poolRef} names the pool, kept current by an informer.
 *
 * <p>As in the Go EPP: a rule whose {@code matches[].model.value} equals the request's model wins over a generic
 * rule (one without {@code matches}); among the candidates the rule of the oldest resource (creation timestamp) wins
 * (then, unlike Go's unstable sort, the resource name and the rule's position break ties); the target is chosen at
 * random in proportion to {@code targets[].weight}, uniformly when all weights are 0. A matching rule without
 * targets rewrites nothing.
 *
 * <p>If the API server does not serve the CRD, nothing is rewritten until it does.
 *
 * <p><b>Threading:</b> thread-safe; {@link #rewrite} reads an immutable index published by the informer's thread.
 */
public final class KubernetesModelRewrites implements ModelRewrites, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(KubernetesModelRewrites.class);

  record Target(String model, int weight) {}

  record Rule(String resource, Instant created, int index, List<Target> targets, List<String> models) {}

  /** The winning rule per exact model, and the winning generic rule (or null). */
  record Index(Map<String, Rule> exact, Rule generic) {

    /** The rule for {@code model}, or null. */
    Rule rule(String model) {
      Rule rule = exact.get(model);
      return rule != null ? rule : generic;
    }
  }

  private final PoolRef pool;
  private final IntUnaryOperator random;
  private final Informer<GenericKubernetesResource> informer;
  private volatile Index index = new Index(Map.of(), null);

  private KubernetesModelRewrites(KubernetesClient client, PoolRef pool, IntUnaryOperator random) {
    this.pool = pool;
    this.random = Objects.requireNonNull(random, "random");
    this.informer = Informer.startCustomResources(client, Resources.INFERENCE_MODEL_REWRITE, pool.namespace(),
        this::refresh, "no model is rewritten");
    refresh();
  }

  /**
   * Lists the rewrites of {@code pool} before returning, then follows them until {@link #close()}.
   *
   * @throws IllegalStateException if the API server is unreachable or refuses the list; the message names the server
   */
  public static KubernetesModelRewrites start(KubernetesClient client, PoolRef pool) {
    return start(client, pool, bound -> ThreadLocalRandom.current().nextInt(bound));
  }

  /**
   * As {@link #start(KubernetesClient, PoolRef)}, choosing weighted targets with {@code random}.
   *
   * @param random given a bound {@code n > 0}, returns a uniformly distributed int in {@code [0, n)}; called from
   *     request threads concurrently
   */
  public static KubernetesModelRewrites start(KubernetesClient client, PoolRef pool, IntUnaryOperator random) {
    return new KubernetesModelRewrites(client, pool, random);
  }

  /** The rule for {@code model} and its chosen target; the rule is named after its {@code InferenceModelRewrite}. */
  @Override
  public Rewrite rewrite(String model) {
    Rule rule = index.rule(model);
    String target = choose(rule, random);
    return target == null ? null : new Rewrite(rule.resource(), target);
  }

  /** Stops following the rewrites; the last rules stay. Idempotent. */
  @Override
  public void close() {
    informer.close();
  }

  /** A target of {@code rule} chosen by weight, or null if there is no rule or it has no targets. */
  static String choose(Rule rule, IntUnaryOperator random) {
    if (rule == null || rule.targets().isEmpty()) {
      return null;
    }
    List<Target> targets = rule.targets();
    int total = 0;
    for (Target target : targets) {
      total += target.weight();
    }
    if (total == 0) {
      return targets.get(random.applyAsInt(targets.size())).model();
    }
    int r = random.applyAsInt(total);
    for (Target target : targets) {
      r -= target.weight();
      if (r < 0) {
        return target.model();
      }
    }
    return targets.get(targets.size() - 1).model();
  }

  private synchronized void refresh() {
    if (informer == null) {
      return;
    }
    Index next = index(informer.items(), pool);
    if (!next.equals(index)) {
      log.info("InferenceModelRewrites of pool {}: {} exact-match models, generic rule from {}", pool,
          next.exact().size(), next.generic() == null ? "none" : next.generic().resource());
      index = next;
    }
  }

  /** The winning rules among the live {@code rewrites} of {@code pool}. */
  static Index index(List<GenericKubernetesResource> rewrites, PoolRef pool) {
    List<Rule> rules = new ArrayList<>();
    for (GenericKubernetesResource rewrite : rewrites) {
      if (Resources.live(rewrite) && Resources.refersTo(rewrite, pool)) {
        rules.addAll(rules(rewrite));
      }
    }
    rules.sort(Comparator.comparing(Rule::created).thenComparing(Rule::resource).thenComparingInt(Rule::index));
    Map<String, Rule> exact = new HashMap<>();
    Rule generic = null;
    for (Rule rule : rules) {
      if (rule.models() == null) {
        generic = generic == null ? rule : generic;
      } else {
        rule.models().forEach(model -> exact.putIfAbsent(model, rule));
      }
    }
    return new Index(Map.copyOf(exact), generic);
  }

  /** The rules of one resource; a generic rule has {@code models == null}. */
  private static List<Rule> rules(GenericKubernetesResource rewrite) {
    String name = rewrite.getMetadata().getName();
    Instant created = created(rewrite);
    List<Rule> rules = new ArrayList<>();
    List<?> specRules = Resources.list(Resources.field(rewrite, "spec", "rules"));
    for (int i = 0; i < specRules.size(); i++) {
      Object rule = specRules.get(i);
      List<Target> targets = new ArrayList<>();
      for (Object target : Resources.list(Resources.field(rule, "targets"))) {
        Object model = Resources.field(target, "modelRewrite");
        if (model != null) {
          targets.add(new Target(model.toString(), Math.max(0, Resources.intValue(Resources.field(target, "weight"), 0))));
        }
      }
      List<?> matches = Resources.list(Resources.field(rule, "matches"));
      List<String> models = null;
      if (!matches.isEmpty()) {
        models = new ArrayList<>();
        for (Object match : matches) {
          Object value = Resources.field(Resources.field(match, "model"), "value");
          if (value != null) {
            models.add(value.toString());
          }
        }
      }
      rules.add(new Rule(name, created, i, List.copyOf(targets), models == null ? null : List.copyOf(models)));
    }
    return rules;
  }

  private static Instant created(GenericKubernetesResource resource) {
    String timestamp = resource.getMetadata().getCreationTimestamp();
    try {
      return timestamp == null ? Instant.MAX : Instant.parse(timestamp);
    } catch (DateTimeParseException e) {
      return Instant.MAX;
    }
  }
}
