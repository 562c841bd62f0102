package dev.epp.scheduler.plugins.prefix;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.epp.api.EndpointMetrics;
import dev.epp.api.InferenceRequest;
import dev.epp.api.RequestBody;
import dev.epp.api.RequestContext;
import dev.epp.api.scheduling.Candidates;
import dev.epp.scheduler.EndpointPickerConfig;
import dev.epp.testkit.Fixtures;
import java.util.Collections;
import org.junit.jupiter.api.Test;

/**
 * A configuration gets the defaults of the EPP its {@code apiVersion} names: llm-d's for {@code llm-d.ai/v1alpha1},
 * the GIE v1.5 EPP's for {@code inference.networking.x-k8s.io/v1alpha1}; explicit parameters win under both.
 */
class DialectDefaultsTest {

  private static final String LLM_D = "llm-d.ai/v1alpha1";
  private static final String GIE = "inference.networking.x-k8s.io/v1alpha1";
  private static final Candidates ONE = Fixtures.candidates(Collections.nCopies(1, EndpointMetrics.none()));

  /** The blocks hashed for a prompt of 10000 one-token blocks by a producer with {@code parameters}. */
  private static int blocksHashed(String apiVersion, String parameters) {
    EndpointPickerConfig config = EndpointPickerConfig.loader().parse("apiVersion: " + apiVersion + "\n"
        + "kind: EndpointPickerConfig\n"
        + "plugins:\n"
        + "- type: approx-prefix-cache-producer\n"
        + "  parameters: {autoTune: false, blockSizeTokens: 1" + parameters + "}\n"
        + "- type: prefix-cache-scorer\n", "test.yaml");
    ApproxPrefixCacheProducer producer = config.plugins(ApproxPrefixCacheProducer.class).get(0);
    RequestContext context = new RequestContext(InferenceRequest.builder().requestId("r").model("m")
        .body(RequestBody.completion("abcd".repeat(10_000))).build());
    producer.prepareData(context, ONE);
    return context.get(PrefixMatch.KEY).totalBlocks();
  }

  @Test
  void prefixProducerMatchesUpTo131072TokensUnderLlmdAnd256BlocksUnderGie() {
    assertEquals(10_000, blocksHashed(LLM_D, ""));
    assertEquals(256, blocksHashed(GIE, ""));
  }

  @Test
  void explicitPrefixLimitsWinUnderBoth() {
    for (String apiVersion : new String[] {LLM_D, GIE}) {
      assertEquals(100, blocksHashed(apiVersion, ", maxPrefixTokensToMatch: 100"), apiVersion);
      assertEquals(300, blocksHashed(apiVersion, ", maxPrefixTokensToMatch: 0, maxPrefixBlocksToMatch: 300"),
          apiVersion);
    }
  }

  @Test
  void theDefaultConfigurationKeepsGiesPrefixDefaults() {
    EndpointPickerConfig config = EndpointPickerConfig.defaults();
    ApproxPrefixCacheProducer producer = config.plugins(ApproxPrefixCacheProducer.class).get(0);
    RequestContext context = new RequestContext(InferenceRequest.builder().requestId("r").model("m")
        .body(RequestBody.completion("abcd".repeat(16 * 10_000))).build());
    producer.prepareData(context, ONE);
    assertEquals(256, context.get(PrefixMatch.KEY).totalBlocks(), "256 blocks of 16 tokens");
  }
}
