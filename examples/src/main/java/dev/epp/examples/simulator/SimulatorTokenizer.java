package dev.epp.examples.simulator;

import com.fasterxml.jackson.databind.JsonNode;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestBody;
import dev.epp.api.RequestContext;
import dev.epp.api.TypedName;
import dev.epp.api.requestcontrol.AsyncPrepareData;
import dev.epp.api.requestcontrol.TokenizedPrompt;
import dev.epp.api.scheduling.Candidates;
import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * Stores the request's prompt as the simulated engine tokenizes it ({@link TokenBlocks#tokenIds}, chat template of
 * {@link OpenAiRequest} applied) under {@link TokenizedPrompt#KEY}, {@code exact}: the ids {@code token-producer}'s
 * {@code vllm} backend would get from the simulator's {@code /render} endpoints, without HTTP, for
 * {@code routing-bench}'s virtual clock. Only completions and chat completions are tokenized; a chat whose messages
 * are not JSON gets no ids. No parameters.
 *
 * <p><b>Threading:</b> stateless and thread-safe; completes before returning.
 */
final class SimulatorTokenizer implements AsyncPrepareData {

  /** The plugin type, registered only in {@code routing-bench}'s plugin registry. */
  static final String TYPE = "simulator-tokenizer";

  private static final CompletableFuture<Void> DONE = CompletableFuture.completedFuture(null);

  private final TypedName typedName;

  SimulatorTokenizer(String name) {
    this.typedName = new TypedName(TYPE, name);
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public CompletionStage<Void> prepareDataAsync(RequestContext context, Candidates candidates) {
    RequestBody body = context.request().body();
    String prompt = switch (body.api()) {
      case COMPLETIONS -> body.prompt();
      case CHAT_COMPLETIONS -> chatPrompt(body.prompt());
      default -> null;
    };
    if (prompt != null) {
      context.put(TokenizedPrompt.KEY, new TokenizedPrompt(TokenBlocks.tokenIds(prompt), true));
    }
    return DONE;
  }

  /** The engine's prompt for a chat's {@code messages} JSON, or {@code null} if it is not a JSON array. */
  private static String chatPrompt(String messages) {
    try {
      JsonNode array = OpenAiRequest.JSON.readTree(messages);
      return array != null && array.isArray() ? OpenAiRequest.chatPrompt(array) : null;
    } catch (IOException e) {
      return null;
    }
  }

  /** Creates {@link SimulatorTokenizer}s. */
  static final class Factory implements PluginFactory {
    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public SimulatorTokenizer create(PluginSpec spec, PluginHandle handle) {
      return new SimulatorTokenizer(spec.name());
    }
  }
}
