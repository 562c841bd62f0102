package dev.epp.kvcache;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.epp.api.MetricsRecorder;
import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestBody;
import dev.epp.api.RequestContext;
import dev.epp.api.Ticker;
import dev.epp.api.TypedName;
import dev.epp.api.requestcontrol.AsyncPrepareData;
import dev.epp.api.requestcontrol.TokenizedPrompt;
import dev.epp.api.scheduling.Candidates;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tokenizes the request's prompt and stores it as a {@link TokenizedPrompt} under {@link TokenizedPrompt#KEY} before
 * the {@code PrepareData} plugins run: llm-d's {@code token-producer} (legacy alias {@code tokenizer}, with a
 * deprecation warning). A prompt already tokenized by an earlier producer is left as it is.
 *
 * <p>Backends, as llm-d selects them:
 * <ul>
 *   <li>{@code estimate} (the default, and {@code estimate: {}}): no tokenizer; the prompt's UTF-8 bytes,
 *       zero-padded to a multiple of 4, packed into little-endian 32-bit pseudo-tokens (about 4 bytes per token);
 *       {@code exact} is false. An empty prompt stores nothing.
 *   <li>{@code vllm} (or {@code modelName} alone): POSTs {@code {"model": modelName, "prompt": …}} to
 *       {@code <vllm.url>/v1/completions/render} for a completions request and {@code {"model": modelName,
 *       "messages": …}} to {@code /v1/chat/completions/render} for a chat request, and stores the answer's
 *       {@code token_ids} ({@code exact} true). The call is asynchronous and bounded by {@code vllm.timeout}, or
 *       {@code vllm.mmTimeout} when a message's content is an array of parts. When it fails (unreachable, times out,
 *       non-2xx, an answer without token ids) the stage still completes normally, the request goes on without token
 *       ids, the failure is counted ({@link MetricsRecorder#recordTokenizationFailure}) and logged at most once a
 *       minute. Other APIs get no token ids.
 * </ul>
 *
 * <p>Parameters: {@code modelName} (required for {@code vllm}); {@code vllm.url} (default
 * {@value #DEFAULT_URL}, http or https, no trailing slash needed), {@code vllm.timeout} (default 5s),
 * {@code vllm.mmTimeout} (default 30s); {@code estimate} (an empty object; llm-d's multimodal estimation settings are
 * not supported). {@code udsTokenizerConfig} is rejected.
 *
 * <p><b>Threading:</b> thread-safe; never blocks the caller.
 */
public final class TokenProducer implements AsyncPrepareData {

  /** The plugin type. */
  public static final String TYPE = "token-producer";
  /** The deprecated alias llm-d still accepts. */
  public static final String LEGACY_TYPE = "tokenizer";
  /** The render server unless {@code vllm.url} says otherwise. */
  public static final String DEFAULT_URL = "http://localhost:8000";
  /** The completions render path. */
  public static final String COMPLETIONS_RENDER_PATH = "/v1/completions/render";
  /** The chat completions render path. */
  public static final String CHAT_RENDER_PATH = "/v1/chat/completions/render";

  private static final Logger log = LoggerFactory.getLogger(TokenProducer.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(5);
  private static final Duration DEFAULT_MM_TIMEOUT = Duration.ofSeconds(30);
  private static final long LOG_INTERVAL_NANOS = TimeUnit.MINUTES.toNanos(1);
  private static final CompletableFuture<Void> DONE = CompletableFuture.completedFuture(null);

  private final TypedName typedName;
  private final Vllm vllm;
  private final MetricsRecorder metrics;
  private final Ticker ticker;
  private final AtomicLong lastLogged;

  /** The vLLM render backend's settings, or none for {@code estimate}. */
  private record Vllm(HttpClient client, String modelName, URI completions, URI chat, Duration timeout,
      Duration mmTimeout) {}

  private TokenProducer(TypedName typedName, Vllm vllm, MetricsRecorder metrics, Ticker ticker) {
    this.typedName = typedName;
    this.vllm = vllm;
    this.metrics = metrics;
    this.ticker = ticker;
    this.lastLogged = new AtomicLong(ticker.nanos() - LOG_INTERVAL_NANOS);
  }

  /**
   * A producer configured by {@code spec}'s parameters.
   *
   * @throws PluginConfigException if a parameter is invalid
   */
  static TokenProducer create(PluginSpec spec, PluginHandle handle) {
    Parameters parameters = spec.parameters();
    if (parameters.contains("udsTokenizerConfig")) {
      throw parameters.invalid("udsTokenizerConfig", "is not supported (deprecated in llm-d); use 'vllm'");
    }
    boolean estimate = parameters.contains("estimate");
    boolean vllm = parameters.contains("vllm") || parameters.contains("modelName");
    parameters.getParameters("estimate");
    Parameters settings = parameters.getParameters("vllm");
    String modelName = parameters.getString("modelName", "");
    String url = settings.getString("url", DEFAULT_URL);
    Duration timeout = settings.getDuration("timeout", DEFAULT_TIMEOUT);
    Duration mmTimeout = settings.getDuration("mmTimeout", DEFAULT_MM_TIMEOUT);
    if (estimate && vllm) {
      throw parameters.invalid("estimate", "excludes 'vllm' and 'modelName': set only one backend");
    }
    TypedName name = spec.typedName();
    if (!vllm) {
      return new TokenProducer(name, null, handle.metrics(), handle.ticker());
    }
    if (modelName.isBlank()) {
      throw parameters.invalid("modelName", "must be specified for the vllm backend");
    }
    if (timeout.isZero() || timeout.isNegative()) {
      throw settings.invalid("timeout", "must be positive");
    }
    if (mmTimeout.isZero() || mmTimeout.isNegative()) {
      throw settings.invalid("mmTimeout", "must be positive");
    }
    URI base;
    try {
      base = URI.create(url.replaceAll("/+$", ""));
    } catch (IllegalArgumentException e) {
      throw settings.invalid("url", "is not a URL: " + e.getMessage());
    }
    if (!("http".equals(base.getScheme()) || "https".equals(base.getScheme())) || base.getHost() == null) {
      throw settings.invalid("url",
          "must be an http:// or https:// URL such as " + DEFAULT_URL + ", got '" + url + "'");
    }
    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(timeout)
        .followRedirects(HttpClient.Redirect.NEVER).build();
    return new TokenProducer(name, new Vllm(client, modelName, URI.create(base + COMPLETIONS_RENDER_PATH),
        URI.create(base + CHAT_RENDER_PATH), timeout, mmTimeout), handle.metrics(), handle.ticker());
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public CompletionStage<Void> prepareDataAsync(RequestContext context, Candidates candidates) {
    if (context.get(TokenizedPrompt.KEY) != null) {
      return DONE;
    }
    RequestBody body = context.request().body();
    if (vllm == null) {
      if (!body.prompt().isEmpty()) {
        context.put(TokenizedPrompt.KEY, new TokenizedPrompt(estimate(body.prompt()), false));
      }
      return DONE;
    }
    boolean chat = body.api() == RequestBody.Api.CHAT_COMPLETIONS;
    if (!chat && body.api() != RequestBody.Api.COMPLETIONS) {
      return DONE;
    }
    ObjectNode request = JSON.createObjectNode().put("model", vllm.modelName);
    Duration timeout = vllm.timeout;
    if (chat) {
      JsonNode messages;
      try {
        messages = JSON.readTree(body.prompt());
      } catch (IOException e) {
        return failed("error", "the chat messages are not JSON");
      }
      request.set("messages", messages);
      if (hasPartedContent(messages)) {
        timeout = vllm.mmTimeout;
      }
    } else {
      request.put("prompt", body.prompt());
    }
    HttpRequest http;
    try {
      http = HttpRequest.newBuilder(chat ? vllm.chat : vllm.completions).timeout(timeout)
          .header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(request))).build();
    } catch (IOException e) {
      return failed("error", e.toString());
    }
    Duration limit = timeout;
    long cap = answerCap(body.prompt().length());
    return vllm.client.sendAsync(http, capped(cap))
        .orTimeout(limit.toNanos(), TimeUnit.NANOSECONDS)
        .handle((response, error) -> {
          if (error != null) {
            Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause()
                : error;
            boolean timedOut = cause instanceof HttpTimeoutException || cause instanceof TimeoutException;
            failed(timedOut ? "timeout" : "error",
                timedOut ? "no answer within " + limit.toMillis() + " ms" : cause.toString());
            return null;
          }
          if (response.statusCode() / 100 != 2) {
            failed("error", "status " + response.statusCode() + ": " + snippet(response.body()));
            return null;
          }
          int[] ids = tokenIds(response.body(), chat);
          if (ids == null) {
            failed("bad_response", "no token_ids in the answer: " + snippet(response.body()));
          } else {
            context.put(TokenizedPrompt.KEY, new TokenizedPrompt(ids, true));
          }
          return null;
        });
  }

  /**
   * The most bytes a render answer may have: its token ids are at most one per prompt character, each a few digits and
   * a comma, plus the model name and the JSON around them.
   */
  static long answerCap(int promptChars) {
    return 16L * promptChars + 64 * 1024;
  }

  /** The answer's bytes; the exchange is cancelled and fails once more than {@code cap} bytes arrive. */
  private static HttpResponse.BodyHandler<byte[]> capped(long cap) {
    return info -> new HttpResponse.BodySubscriber<>() {
      private final HttpResponse.BodySubscriber<byte[]> bytes = HttpResponse.BodySubscribers.ofByteArray();
      private Flow.Subscription subscription;
      private long received;
      private boolean over;

      @Override
      public CompletionStage<byte[]> getBody() {
        return bytes.getBody();
      }

      @Override
      public void onSubscribe(Flow.Subscription value) {
        subscription = value;
        bytes.onSubscribe(value);
      }

      @Override
      public void onNext(List<ByteBuffer> items) {
        if (over) {
          return;
        }
        for (ByteBuffer item : items) {
          received += item.remaining();
        }
        if (received > cap) {
          over = true;
          subscription.cancel();
          bytes.onError(new IOException("the answer exceeds " + cap + " bytes"));
          return;
        }
        bytes.onNext(items);
      }

      @Override
      public void onError(Throwable error) {
        if (!over) {
          bytes.onError(error);
        }
      }

      @Override
      public void onComplete() {
        if (!over) {
          bytes.onComplete();
        }
      }
    };
  }

  /** Counts and (rate-limited) logs a failure; the request goes on without token ids. */
  private CompletableFuture<Void> failed(String reason, String detail) {
    metrics.recordTokenizationFailure(typedName, reason);
    long now = ticker.nanos();
    long previous = lastLogged.get();
    if (now - previous >= LOG_INTERVAL_NANOS && lastLogged.compareAndSet(previous, now)) {
      log.warn("plugin {}: tokenizing failed ({}): {}; requests go on without token ids (logged at most once a "
          + "minute)", typedName, reason, detail);
    }
    return DONE;
  }

  /** The answer's token ids ({@code [{"token_ids":…}]} or {@code {"token_ids":…}}), or {@code null} if none. */
  private static int[] tokenIds(byte[] answer, boolean chat) {
    JsonNode root;
    try {
      root = JSON.readTree(answer);
    } catch (IOException e) {
      return null;
    }
    if (root == null) {
      return null;
    }
    JsonNode ids = (chat ? root : root.path(0)).path("token_ids");
    if (!ids.isArray()) {
      return null;
    }
    int[] out = new int[ids.size()];
    for (int i = 0; i < out.length; i++) {
      JsonNode id = ids.get(i);
      if (!id.canConvertToLong() || !id.isIntegralNumber() || id.asLong() < 0 || id.asLong() > 0xffff_ffffL) {
        return null;
      }
      out[i] = (int) id.asLong();
    }
    return out;
  }

  /** Whether a message's content is an array of parts (possibly multimodal: the longer timeout applies). */
  private static boolean hasPartedContent(JsonNode messages) {
    for (JsonNode message : messages) {
      JsonNode content = message.path("content");
      if (content.isArray() && !content.isEmpty()) {
        return true;
      }
    }
    return false;
  }

  /**
   * The estimate backend's pseudo-tokens: {@code prompt}'s UTF-8 bytes, zero-padded to a multiple of 4, as
   * little-endian 32-bit values.
   */
  static int[] estimate(String prompt) {
    byte[] bytes = prompt.getBytes(StandardCharsets.UTF_8);
    int[] tokens = new int[(bytes.length + 3) / 4];
    for (int i = 0; i < bytes.length; i++) {
      tokens[i / 4] |= (bytes[i] & 0xff) << (8 * (i % 4));
    }
    return tokens;
  }

  private static String snippet(byte[] body) {
    String text = new String(body, 0, Math.min(body.length, 256), StandardCharsets.UTF_8);
    return text.replaceAll("\\s+", " ");
  }

  /** Creates {@code token-producer}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public TokenProducer create(PluginSpec spec, PluginHandle handle) {
      return TokenProducer.create(spec, handle);
    }
  }

  /** Creates producers of the deprecated type {@code tokenizer}, logging that it is deprecated. */
  public static final class LegacyFactory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public LegacyFactory() {}

    @Override
    public String type() {
      return LEGACY_TYPE;
    }

    @Override
    public TokenProducer create(PluginSpec spec, PluginHandle handle) {
      TokenProducer producer = TokenProducer.create(spec, handle);
      log.warn("DEPRECATION: plugin '{}': type '{}' is deprecated; use '{}'", spec.name(), LEGACY_TYPE, TYPE);
      return producer;
    }
  }
}
