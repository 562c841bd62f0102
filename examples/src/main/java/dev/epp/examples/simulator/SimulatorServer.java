package dev.epp.examples.simulator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A vLLM-compatible model server over a {@link SimulatedEngine} running in real time: {@code POST /v1/completions}
 * and {@code /v1/chat/completions} (JSON or server-sent events, with {@code stream_options.include_usage}),
 * {@code GET /v1/models}, {@code /health} and {@code /metrics}; and vLLM's render API, {@code POST /v1/completions/render}
 * and {@code /v1/chat/completions/render}, which answer the prompt's token ids as the engine tokenizes it
 * ({@link TokenBlocks}) without generating: {@code [{"model":…,"token_ids":[…]}]} for completions (an array prompt is
 * one prompt, as for generation) and {@code {"model":…,"token_ids":[…]}} for chat.
 *
 * <p>With a {@link KvEventPublisher} the engine's KV-cache changes are published over ZeroMQ as vLLM publishes them.
 *
 * <p>Responses complete after the engine's simulated delays and streams send each token when the engine emits it.
 * Usage reports the engine's token counts, including {@code prompt_tokens_details.cached_tokens}, and the header
 * {@value #TTFT_HEADER} the engine's time to first token in milliseconds, so clients can observe the cache without
 * timing anything. Without {@code max_tokens} a response has {@value #DEFAULT_MAX_TOKENS} tokens, the OpenAI
 * completions default. Errors have vLLM's shape: {@code {"object":"error","message":…,"type":…,"code":…}}.
 *
 * <p><b>Prefill/decode disaggregation</b>, as llm-d runs it with vLLM's NIXL connector. A decode or both-role pod
 * given {@value #PREFILLER_HEADER}{@code : <host>:<port>} acts as llm-d's routing sidecar: it first sends the
 * request to that pod with {@code stream: false}, {@code max_tokens: 1} and
 * {@code kv_transfer_params: {"do_remote_decode": true, ...}}, waits for the answer (at most
 * {@link #PREFILL_TIMEOUT}), then decodes locally, pulling the prompt's KV as {@link SimulatedEngine} describes when
 * the answer carries {@code kv_transfer_params.do_remote_prefill}. A prefill pod that cannot be reached, times out,
 * answers 5xx or not JSON gives the client a 502 {@code BadGateway} error; its 4xx errors pass through. Usage then
 * reports the prefill pod's {@code cached_tokens}, as llm-d's sidecar rewrites it. A request with
 * {@code do_remote_decode} is prefilled and answered after its one token, with {@code kv_transfer_params} naming this
 * pod; its blocks are released then and stay in the prefix cache, where the transfer reads them (vLLM instead holds
 * them until the decode pod has read them). The headers {@value #PREFILLED_BY_HEADER} and
 * {@value #DECODED_BY_HEADER} name the pods that did each part, and {@value #TTFT_HEADER} includes the remote
 * prefill's round trip.
 *
 * <p><b>Threading:</b> HTTP exchanges run on a pool of daemon threads; the engine runs on the clock's thread, and
 * the two meet only through {@link RealTimeClock#call} and per-request queues.
 */
final class SimulatorServer implements AutoCloseable {

  /** Response header carrying the engine's time to first token, in milliseconds. */
  static final String TTFT_HEADER = "x-simulator-ttft-ms";
  /** Request header naming the prefill pod, set by the EPP's {@code disagg-profile-handler}. */
  static final String PREFILLER_HEADER = "x-prefiller-host-port";
  /** Response header naming the pod that prefilled the prompt. */
  static final String PREFILLED_BY_HEADER = "x-simulator-prefilled-by";
  /** Response header naming the pod that decoded the output. */
  static final String DECODED_BY_HEADER = "x-simulator-decoded-by";
  /** How long a decode pod waits for its prefill pod's answer, queueing included. */
  static final Duration PREFILL_TIMEOUT = Duration.ofSeconds(60);
  /** Output tokens when a request gives no {@code max_tokens}. */
  static final int DEFAULT_MAX_TOKENS = 16;

  private static final String[] WORDS = {"the", "and", "for", "you", "are", "not", "but", "can", "all", "one", "was",
      "its", "new", "use", "may", "way", "how", "get", "now", "see"};

  /** What the generated text is. */
  enum TextMode {
    /** The last user message (chat) or the prompt (completions), cut to the token budget. */
    ECHO,
    /** Random three-letter words, one per token. */
    RANDOM
  }

  private final EngineConfig config;
  private final Role role;
  private final String name;
  private final TextMode mode;
  private final Random random;
  private final RealTimeClock clock = new RealTimeClock();
  private final SimulatedEngine engine;
  private final HttpServer http;
  private final ExecutorService handlers;
  private final HttpClient prefillClient;
  private final AtomicLong ids = new AtomicLong();
  private final KvEventPublisher kvEvents;

  private SimulatorServer(EngineConfig config, Role role, String name, TextMode mode, long seed, HttpServer http,
      KvEvents kvEventsOptions) throws IOException {
    this.config = config;
    this.role = role;
    this.name = name;
    this.mode = mode;
    this.random = new Random(seed);
    try {
      this.kvEvents = kvEventsOptions == null ? null : KvEventPublisher.bind(clock,
          http.getAddress().getAddress().isAnyLocalAddress() ? "*" : http.getAddress().getAddress().getHostAddress(),
          kvEventsOptions.port(), name, config.model(), kvEventsOptions.encoding());
    } catch (IOException e) {
      clock.close();
      throw e;
    }
    this.engine = new SimulatedEngine(config, clock, kvEvents == null ? KvCache.Listener.NONE : kvEvents);
    this.http = http;
    this.handlers = Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "simulator-http");
      t.setDaemon(true);
      return t;
    });
    http.setExecutor(handlers);
    this.prefillClient = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).executor(handlers)
        .connectTimeout(Duration.ofSeconds(5)).build();
    http.createContext("/", this::handle);
  }

  /**
   * Starts a simulator listening on {@code address} (port 0 picks a free port).
   *
   * @param name the pod name reported in {@value #PREFILLED_BY_HEADER} and {@value #DECODED_BY_HEADER}
   * @param seed seeds the random text
   * @throws IOException if the address cannot be bound
   */
  static SimulatorServer start(EngineConfig config, Role role, String name, TextMode mode, long seed,
      InetSocketAddress address) throws IOException {
    return start(config, role, name, mode, seed, address, null);
  }

  /**
   * Starts a simulator listening on {@code address} that publishes its KV-cache events as {@code kvEvents} says, on
   * the same host.
   *
   * @param kvEvents where and how to publish, or {@code null} for no events
   * @throws IOException if the address or the events port cannot be bound
   */
  static SimulatorServer start(EngineConfig config, Role role, String name, TextMode mode, long seed,
      InetSocketAddress address, KvEvents kvEvents) throws IOException {
    HttpServer http = HttpServer.create(address, 0);
    SimulatorServer server;
    try {
      server = new SimulatorServer(config, role, name, mode, seed, http, kvEvents);
    } catch (IOException e) {
      http.stop(0);
      throw e;
    }
    server.http.start();
    return server;
  }

  /**
   * Where the KV-cache events are published.
   *
   * @param port the publisher's port; 0 picks a free one
   * @param encoding how events are encoded
   */
  record KvEvents(int port, KvEventPublisher.Encoding encoding) {}

  /** The bound port. */
  int port() {
    return http.getAddress().getPort();
  }

  /** The KV events publisher's port, or -1 without one. */
  int kvEventsPort() {
    return kvEvents == null ? -1 : kvEvents.port();
  }

  /** Stops serving at once; requests in flight are abandoned. */
  @Override
  public void close() {
    http.stop(0);
    handlers.shutdownNow();
    clock.close();
    if (kvEvents != null) {
      kvEvents.close();
    }
  }

  private void handle(HttpExchange exchange) throws IOException {
    try (exchange) {
      String path = exchange.getRequestURI().getPath();
      boolean post = exchange.getRequestMethod().equals("POST");
      switch (path) {
        case "/v1/completions", "/v1/chat/completions" -> {
          if (!post) {
            error(exchange, 405, "MethodNotAllowed", "use POST");
          } else {
            generate(exchange, path);
          }
        }
        case "/v1/completions/render", "/v1/chat/completions/render" -> {
          if (!post) {
            error(exchange, 405, "MethodNotAllowed", "use POST");
          } else {
            render(exchange, path.equals("/v1/chat/completions/render"));
          }
        }
        case "/v1/models" -> send(exchange, 200, "application/json", models());
        case "/health" -> send(exchange, 200, "text/plain", new byte[0]);
        case "/metrics" -> send(exchange, 200, "text/plain; version=0.0.4; charset=utf-8",
            clock.call(() -> VllmMetricsPage.render(engine, System.currentTimeMillis() / 1000.0))
                .getBytes(StandardCharsets.UTF_8));
        default -> error(exchange, 404, "NotFoundError", "no route for " + path);
      }
    }
  }

  private void generate(HttpExchange exchange, String path) throws IOException {
    byte[] body = exchange.getRequestBody().readAllBytes();
    OpenAiRequest request;
    try {
      request = OpenAiRequest.parse(path.equals("/v1/chat/completions"), body);
    } catch (IllegalArgumentException e) {
      error(exchange, 400, "BadRequestError", e.getMessage());
      return;
    }
    if (!config.serves(request.model())) {
      error(exchange, 404, "NotFoundError", "The model `" + request.model() + "` does not exist.");
      return;
    }
    String prefiller = exchange.getRequestHeaders().getFirst(PREFILLER_HEADER);
    RemotePrefill remote = null;
    if (prefiller != null && role.pullsRemotePrefill() && !request.remoteDecode()) {
      try {
        remote = prefill(exchange, prefiller, path, body);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      if (remote == null) {
        return;
      }
    }
    boolean pulled = remote != null && remote.kvTransferred();
    int budget = request.maxTokens() > 0 ? request.maxTokens() : DEFAULT_MAX_TOKENS;
    List<String> tokens = mode == TextMode.ECHO ? echo(request.lastUserText(), budget) : randomText(budget);
    String finishReason = tokens.size() < budget ? "stop" : "length";
    BlockingQueue<Object> events = new LinkedBlockingQueue<>();
    SimulatedEngine.Request work = new SimulatedEngine.Request(request.model(), request.prompt(),
        String.join("", tokens), request.stream(), finishReason, pulled);
    SimulatedEngine.Listener listener = new SimulatedEngine.Listener() {
      @Override
      public void firstToken(long ttftNanos, int cachedTokens) {
        events.add(ttftNanos);
      }

      @Override
      public void token(int index) {
        events.add(index);
      }

      @Override
      public void completed(SimulatedEngine.Completion completion) {
        events.add(completion);
      }
    };
    try {
      clock.call(() -> {
        engine.submit(work, listener);
        return null;
      });
    } catch (IllegalArgumentException e) {
      error(exchange, 400, "BadRequestError", e.getMessage());
      return;
    }
    Response response = new Response(request, "cmpl-" + ids.incrementAndGet(), System.currentTimeMillis() / 1000);
    Integer cachedTokens = pulled ? remote.cachedTokens() : null;
    try {
      long ttftNanos = (Long) events.take() + (remote == null ? 0 : remote.nanos());
      exchange.getResponseHeaders().add(TTFT_HEADER, String.format(Locale.ROOT, "%.3f", ttftNanos / 1e6));
      exchange.getResponseHeaders().add(PREFILLED_BY_HEADER, pulled ? remote.prefilledBy() : name);
      if (!request.remoteDecode()) {
        exchange.getResponseHeaders().add(DECODED_BY_HEADER, name);
      }
      if (!request.stream()) {
        SimulatedEngine.Completion done = (SimulatedEngine.Completion) events.take();
        send(exchange, 200, "application/json", response.full(String.join("", tokens), finishReason, done,
            cachedTokens, request.remoteDecode() ? kvTransferParams(exchange, done) : null));
        return;
      }
      exchange.getResponseHeaders().add("Content-Type", "text/event-stream");
      exchange.getResponseHeaders().add("Cache-Control", "no-cache");
      exchange.sendResponseHeaders(200, 0);
      OutputStream out = exchange.getResponseBody();
      event(out, response.chunk(tokens.get(0), true, null));
      Object next;
      while (!((next = events.take()) instanceof SimulatedEngine.Completion)) {
        event(out, response.chunk(tokens.get((Integer) next), false, null));
      }
      event(out, response.chunk("", false, finishReason));
      if (request.includeUsage()) {
        event(out, response.usageChunk((SimulatedEngine.Completion) next, cachedTokens));
      }
      out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Answers the token ids of the request's prompt, as vLLM's render API does. */
  private void render(HttpExchange exchange, boolean chat) throws IOException {
    OpenAiRequest request;
    try {
      request = OpenAiRequest.parse(chat, exchange.getRequestBody().readAllBytes());
    } catch (IllegalArgumentException e) {
      error(exchange, 400, "BadRequestError", e.getMessage());
      return;
    }
    if (!config.serves(request.model())) {
      error(exchange, 404, "NotFoundError", "The model `" + request.model() + "` does not exist.");
      return;
    }
    ObjectNode rendered = OpenAiRequest.JSON.createObjectNode().put("model", request.model());
    ArrayNode ids = rendered.putArray("token_ids");
    for (int id : TokenBlocks.tokenIds(request.prompt())) {
      ids.add(id);
    }
    Object body = chat ? rendered : OpenAiRequest.JSON.createArrayNode().add(rendered);
    send(exchange, 200, "application/json", OpenAiRequest.JSON.writeValueAsBytes(body));
  }

  /**
   * What a decode pod learnt from its prefill pod.
   *
   * @param prefilledBy the prefill pod's name
   * @param kvTransferred whether the answer offered the KV for transfer ({@code do_remote_prefill})
   * @param cachedTokens the prefill's {@code cached_tokens}
   * @param nanos the prefill's round trip
   */
  private record RemotePrefill(String prefilledBy, boolean kvTransferred, int cachedTokens, long nanos) {}

  /**
   * Sends the prefill request to {@code hostPort}, as llm-d's sidecar does with vLLM's NIXL connector.
   *
   * @return what the prefill pod answered, or null after sending the client an error
   */
  private RemotePrefill prefill(HttpExchange exchange, String hostPort, String path, byte[] body)
      throws IOException, InterruptedException {
    URI uri;
    try {
      uri = new URI("http://" + hostPort + path);
      if (uri.getHost() == null || uri.getPort() < 0 || !hostPort.equals(uri.getRawAuthority())) {
        throw new URISyntaxException(hostPort, "not <host>:<port>");
      }
    } catch (URISyntaxException e) {
      error(exchange, 400, "BadRequestError", "invalid " + PREFILLER_HEADER + " '" + hostPort
          + "': expected <host>:<port>");
      return null;
    }
    ObjectNode prefillBody = (ObjectNode) OpenAiRequest.JSON.readTree(body);
    prefillBody.put("stream", false);
    prefillBody.remove("stream_options");
    prefillBody.put("max_tokens", 1);
    if (prefillBody.has("max_completion_tokens")) {
      prefillBody.put("max_completion_tokens", 1);
    }
    prefillBody.putObject("kv_transfer_params").put("do_remote_decode", true).put("do_remote_prefill", false)
        .putNull("remote_engine_id").putNull("remote_block_ids").putNull("remote_host").putNull("remote_port");
    HttpRequest prefillRequest = HttpRequest.newBuilder(uri).timeout(PREFILL_TIMEOUT)
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofByteArray(OpenAiRequest.JSON.writeValueAsBytes(prefillBody))).build();
    long started = System.nanoTime();
    HttpResponse<byte[]> answer;
    try {
      answer = prefillClient.send(prefillRequest, HttpResponse.BodyHandlers.ofByteArray());
    } catch (HttpTimeoutException e) {
      error(exchange, 502, "BadGateway", "prefill pod " + hostPort + " did not answer within "
          + PREFILL_TIMEOUT.toSeconds() + " s");
      return null;
    } catch (ConnectException e) {
      error(exchange, 502, "BadGateway", "cannot connect to prefill pod " + hostPort);
      return null;
    } catch (IOException e) {
      error(exchange, 502, "BadGateway", "prefill pod " + hostPort + " failed: " + e);
      return null;
    }
    long nanos = System.nanoTime() - started;
    int status = answer.statusCode();
    if (status >= 400 && status < 500) {
      send(exchange, status, "application/json", answer.body());
      return null;
    }
    JsonNode json;
    try {
      json = OpenAiRequest.JSON.readTree(answer.body());
    } catch (IOException e) {
      json = null;
    }
    if (status != 200 || json == null || !json.isObject()) {
      String message = json == null ? "" : json.path("message").asText("");
      error(exchange, 502, "BadGateway", "prefill pod " + hostPort + " answered " + status
          + (message.isEmpty() ? "" : ": " + message));
      return null;
    }
    return new RemotePrefill(answer.headers().firstValue(PREFILLED_BY_HEADER).orElse(hostPort),
        json.path("kv_transfer_params").path("do_remote_prefill").asBoolean(false),
        json.path("usage").path("prompt_tokens_details").path("cached_tokens").asInt(0), nanos);
  }

  /** The {@code kv_transfer_params} of a prefill's answer: where the decode pod reads the prompt's blocks. */
  private ObjectNode kvTransferParams(HttpExchange exchange, SimulatedEngine.Completion done) {
    ObjectNode params = OpenAiRequest.JSON.createObjectNode().put("do_remote_prefill", true)
        .put("do_remote_decode", false).put("remote_engine_id", name);
    ArrayNode blocks = params.putArray("remote_block_ids");
    for (int i = 0; i < (done.promptTokens() + config.blockSize() - 1) / config.blockSize(); i++) {
      blocks.add(i);
    }
    return params.put("remote_host", exchange.getLocalAddress().getAddress().getHostAddress())
        .put("remote_port", exchange.getLocalAddress().getPort()).put("tp_size", 1);
  }

  private List<String> echo(String text, int budget) {
    List<String> tokens = new ArrayList<>();
    for (int i = 0; i < text.length() && tokens.size() < budget; i += SimulatedEngine.CHARS_PER_TOKEN) {
      tokens.add(text.substring(i, Math.min(text.length(), i + SimulatedEngine.CHARS_PER_TOKEN)));
    }
    if (tokens.isEmpty()) {
      tokens.add(" ");
    }
    return tokens;
  }

  private List<String> randomText(int budget) {
    List<String> tokens = new ArrayList<>(budget);
    for (int i = 0; i < budget; i++) {
      tokens.add(WORDS[random.nextInt(WORDS.length)] + " ");
    }
    return tokens;
  }

  private byte[] models() throws IOException {
    ObjectNode root = OpenAiRequest.JSON.createObjectNode().put("object", "list");
    ArrayNode data = root.putArray("data");
    long created = System.currentTimeMillis() / 1000;
    List<String> names = new ArrayList<>();
    names.add(config.model());
    names.addAll(config.loras());
    for (String name : names) {
      ObjectNode model = data.addObject().put("id", name).put("object", "model").put("created", created)
          .put("owned_by", "vllm").put("root", name)
          .put("max_model_len", (long) config.kvBlocks() * config.blockSize());
      if (name.equals(config.model())) {
        model.putNull("parent");
      } else {
        model.put("parent", config.model());
      }
    }
    return OpenAiRequest.JSON.writeValueAsBytes(root);
  }

  private static void event(OutputStream out, byte[] json) throws IOException {
    out.write("data: ".getBytes(StandardCharsets.UTF_8));
    out.write(json);
    out.write("\n\n".getBytes(StandardCharsets.UTF_8));
    out.flush();
  }

  private static void error(HttpExchange exchange, int status, String type, String message) throws IOException {
    ObjectNode body = OpenAiRequest.JSON.createObjectNode().put("object", "error").put("message", message)
        .put("type", type).putNull("param").put("code", status);
    send(exchange, status, "application/json", OpenAiRequest.JSON.writeValueAsBytes(body));
  }

  private static void send(HttpExchange exchange, int status, String contentType, byte[] body) throws IOException {
    exchange.getResponseHeaders().add("Content-Type", contentType);
    exchange.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
    exchange.getResponseBody().write(body);
  }

  /** The OpenAI JSON of one response. */
  private record Response(OpenAiRequest request, String id, long created) {

    /**
     * @param cachedTokens the usage's {@code cached_tokens}, or null for the engine's
     * @param kvTransferParams the prefill's {@code kv_transfer_params}, or null
     */
    byte[] full(String text, String finishReason, SimulatedEngine.Completion done, Integer cachedTokens,
        ObjectNode kvTransferParams) throws IOException {
      ObjectNode root = envelope(request.chat() ? "chat.completion" : "text_completion");
      ObjectNode choice = root.putArray("choices").addObject().put("index", 0);
      if (request.chat()) {
        choice.putObject("message").put("role", "assistant").put("content", text);
      } else {
        choice.put("text", text).putNull("logprobs");
      }
      choice.put("finish_reason", finishReason);
      usage(root, done, cachedTokens);
      if (kvTransferParams != null) {
        root.set("kv_transfer_params", kvTransferParams);
      }
      return OpenAiRequest.JSON.writeValueAsBytes(root);
    }

    /** A streamed chunk with one token, or the last one with the finish reason. */
    byte[] chunk(String text, boolean first, String finishReason) throws IOException {
      ObjectNode root = envelope(request.chat() ? "chat.completion.chunk" : "text_completion");
      ObjectNode choice = root.putArray("choices").addObject().put("index", 0);
      if (request.chat()) {
        ObjectNode delta = choice.putObject("delta");
        if (first) {
          delta.put("role", "assistant");
        }
        if (finishReason == null) {
          delta.put("content", text);
        }
      } else {
        choice.put("text", text).putNull("logprobs");
      }
      if (finishReason == null) {
        choice.putNull("finish_reason");
      } else {
        choice.put("finish_reason", finishReason);
      }
      return OpenAiRequest.JSON.writeValueAsBytes(root);
    }

    /** The final chunk of {@code stream_options.include_usage}: no choices, the usage. */
    byte[] usageChunk(SimulatedEngine.Completion done, Integer cachedTokens) throws IOException {
      ObjectNode root = envelope(request.chat() ? "chat.completion.chunk" : "text_completion");
      root.putArray("choices");
      usage(root, done, cachedTokens);
      return OpenAiRequest.JSON.writeValueAsBytes(root);
    }

    private ObjectNode envelope(String object) {
      return OpenAiRequest.JSON.createObjectNode().put("id", (request.chat() ? "chat" : "") + id)
          .put("object", object).put("created", created).put("model", request.model());
    }

    private static void usage(ObjectNode root, SimulatedEngine.Completion done, Integer cachedTokens) {
      ObjectNode usage = root.putObject("usage").put("prompt_tokens", done.promptTokens())
          .put("total_tokens", done.promptTokens() + done.outputTokens())
          .put("completion_tokens", done.outputTokens());
      usage.putObject("prompt_tokens_details")
          .put("cached_tokens", cachedTokens == null ? done.cachedTokens() : cachedTokens);
    }
  }
}
