package dev.epp.examples.simulator;

import dev.epp.api.EndpointMetrics;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.TreeMap;

/**
 * One model server's scheduling and KV cache, simulated with a cost model simple enough to reason about and rich
 * enough that routing decisions show in latency.
 *
 * <p><b>Tokens.</b> There is no tokenizer: a text of {@code c} characters is {@code ceil(c / 4)} tokens (at least 1),
 * the same 4-characters-per-token approximation the EPP's prefix producer hashes with; {@link TokenBlocks} gives each
 * piece a token id and each full block of {@code blockSize} tokens ({@code 4 × blockSize} characters) a chained 64-bit
 * hash over its token ids seeded by the model name, so equal prefixes of the same model share blocks and nothing else
 * does.
 *
 * <p><b>Admission and prefill.</b> Prefill is compute-bound, so the engine prefills one sequence at a time. A
 * request waits in one FIFO queue until no prefill is in progress, fewer than {@code maxNumSeqs} sequences run, its
 * LoRA adapter is running or a LoRA slot is free, and the KV cache can hold all of its blocks (prompt plus
 * {@code max_tokens}, reserved up front, so there is no preemption); the head of the queue blocks the rest. It then
 * runs: its cached tokens are the prompt's leading resident blocks, and prefill takes {@code prefillNanosPerToken}
 * per uncached token (at least one token is always computed). The first output token appears when prefill ends, and
 * the next request may start its prefill. So {@code num_requests_waiting} is the prefill backlog plus whatever does
 * not fit, as with vLLM's token budget per step.
 *
 * <p><b>Decode</b> is continuous batching approximated: every running sequence emits one token per
 * {@code decodeNanosPerToken}, independently of batch size and, unless interference is on (below), of prefills in
 * progress. When its last token is out the sequence releases its blocks, and the full blocks of prompt plus output stay cached (LRU, see {@link KvCache}), as
 * in vLLM: a chat's next turn, which sends the reply back, finds the whole previous conversation cached.
 *
 * <p><b>Prefill/decode interference</b> (opt-in, {@link EngineConfig#prefillStallsDecode}): the running sequences
 * emit no tokens while the pod prefills, and resume where they were when the prefill ends, so every local prefill
 * delays every running sequence's remaining tokens by its duration. This is vLLM without chunked prefill, whose steps
 * run either the waiting prefills or the running decodes, prefills first; with chunked prefill (vLLM V1's default) a
 * step runs the decodes plus a prefill chunk that fills the rest of its token budget and takes about as much longer
 * as the chunk's compute, so the same prefill work is spread over more, slower decode steps and the total delay is
 * about the same. Receiving a remote prefill's KV does not stall decode (the transfer is not compute); its last
 * prompt token's compute is ignored.
 *
 * <p><b>Remote prefill</b> (prefill/decode disaggregation, as vLLM with a KV connector on a decode pod): a request
 * whose prompt was prefilled on another pod waits in the same queue for a sequence slot and its blocks, but not for
 * the prefill unit. Its cached prefix is local as usual; the rest of its prompt but the last token is transferred at
 * {@code kvTransferNanosPerToken} per token, holding its slot and blocks, and the last prompt token is computed
 * locally; then it decodes as any other. Its prompt blocks are resident afterwards, as if prefilled here.
 *
 * <p>So queueing and KV usage are consequences of the requests a pod is given, and time to first token falls when a
 * request lands where its prefix is cached: it needs less prefill, and so does everyone queued behind it.
 *
 * <p><b>Threading:</b> not thread-safe; call it only on its clock's thread.
 */
final class SimulatedEngine {

  /** Characters per token. */
  static final int CHARS_PER_TOKEN = 4;

  /** What a request sees of its own progress. Methods run on the clock's thread. */
  interface Listener {
    /** The first token is out, {@code ttftNanos} after submission, with {@code cachedTokens} from the cache. */
    default void firstToken(long ttftNanos, int cachedTokens) {}

    /** Token {@code index} (from 1) is out; called only for requests that asked to stream tokens. */
    default void token(int index) {}

    /** The last token is out. */
    void completed(Completion completion);
  }

  /**
   * A generation request.
   *
   * @param model the base model or a LoRA adapter the engine serves
   * @param prompt the prompt text, chat template applied
   * @param output the text to generate; it is {@link #tokens} tokens long
   * @param streamTokens whether the listener wants {@link Listener#token} calls
   * @param finishReason the finish reason the response will report ({@code length} or {@code stop}), counted in
   *     {@code vllm:request_success_total}
   * @param remotePrefill whether the prompt's KV comes from a prefill pod (see the class comment)
   */
  record Request(String model, String prompt, String output, boolean streamTokens, String finishReason,
      boolean remotePrefill) {

    int outputTokens() {
      return tokens(output);
    }
  }

  /**
   * A finished request's accounting.
   *
   * @param promptTokens prompt tokens
   * @param cachedTokens prompt tokens served from the prefix cache
   * @param outputTokens generated tokens
   * @param queueNanos time waiting for admission
   * @param ttftNanos time from submission to the first token
   * @param e2eNanos time from submission to the last token
   */
  record Completion(int promptTokens, int cachedTokens, int outputTokens, long queueNanos, long ttftNanos,
      long e2eNanos) {}

  private final EngineConfig config;
  private final SimClock clock;
  private final KvCache cache;
  private final ArrayDeque<Sequence> waiting = new ArrayDeque<>();
  private final TreeMap<String, Integer> runningAdapters = new TreeMap<>();
  private final TreeMap<String, Integer> waitingAdapters = new TreeMap<>();
  private int running;
  private boolean prefilling;
  /** With interference: the decoding sequences by the decode time of their next event, then by arrival. */
  private final PriorityQueue<Sequence> decoding = new PriorityQueue<>(
      (a, b) -> a.decodeDue != b.decodeDue ? Long.compare(a.decodeDue, b.decodeDue) : Long.compare(a.order, b.order));
  /** Decode time: the clock's time minus the time spent prefilling, as of {@link #resumedAt}. */
  private long decodeTime;
  private long resumedAt;
  /** Invalidates the scheduled decode event when the decode schedule changes. */
  private long decodeEpoch;
  private long decodeOrder;
  private int maxWaiting;

  private final Histogram ttft = new Histogram(Histogram.TTFT);
  private final Histogram interToken = new Histogram(Histogram.INTER_TOKEN);
  private final Histogram e2e = new Histogram(Histogram.LATENCY);
  private final Histogram queueTime = new Histogram(Histogram.LATENCY);
  private long promptTokensTotal;
  private long promptTokensComputed;
  private long promptTokensCacheHit;
  private long promptTokensTransferred;
  private long generationTokensTotal;
  private long prefixQueries;
  private long prefixHits;
  private final TreeMap<String, Long> successes = new TreeMap<>();

  SimulatedEngine(EngineConfig config, SimClock clock) {
    this(config, clock, KvCache.Listener.NONE);
  }

  /** An engine whose KV cache reports its changes to {@code cacheListener} (see {@link KvCache.Listener}). */
  SimulatedEngine(EngineConfig config, SimClock clock, KvCache.Listener cacheListener) {
    this.config = config;
    this.clock = clock;
    this.cache = new KvCache(config.kvBlocks(), cacheListener);
  }

  EngineConfig config() {
    return config;
  }

  /** The number of tokens a text counts as: {@code ceil(chars / 4)}, at least 1. */
  static int tokens(String text) {
    return Math.max(1, (text.length() + CHARS_PER_TOKEN - 1) / CHARS_PER_TOKEN);
  }

  /**
   * Queues a request.
   *
   * @throws IllegalArgumentException if the engine does not serve the model, or the request needs more KV blocks
   *     than the cache has
   */
  void submit(Request request, Listener listener) {
    if (!config.serves(request.model())) {
      throw new IllegalArgumentException("The model `" + request.model() + "` does not exist.");
    }
    int promptTokens = tokens(request.prompt());
    TokenBlocks blocks = blocks(request.model(), request.prompt());
    long totalBlocks = ((long) promptTokens + request.outputTokens() + config.blockSize() - 1) / config.blockSize();
    if (totalBlocks > config.kvBlocks()) {
      throw new IllegalArgumentException("This model's KV cache holds " + (long) config.kvBlocks() * config.blockSize()
          + " tokens; the request needs " + ((long) promptTokens + request.outputTokens()) + " (" + promptTokens
          + " in the prompt, " + request.outputTokens() + " to generate).");
    }
    Sequence sequence = new Sequence(request, listener, promptTokens, blocks,
        (int) totalBlocks - blocks.count(), clock.nanos());
    waiting.addLast(sequence);
    adjust(waitingAdapters, sequence, 1);
    admit();
    maxWaiting = Math.max(maxWaiting, waiting.size());
  }

  /** Starts requests from the head of the queue while it can: see the class comment. */
  private void admit() {
    while (admitHead()) {
      // a remote prefill does not take the prefill unit, so the next one may start too
    }
  }

  /**
   * Starts the head of the queue if a sequence slot, a LoRA slot, its KV blocks and, unless it was prefilled
   * remotely, the prefill unit are free.
   */
  private boolean admitHead() {
    if (waiting.isEmpty() || running >= config.maxNumSeqs()) {
      return false;
    }
    Sequence next = waiting.peekFirst();
    if (prefilling && !next.request.remotePrefill()) {
      return false;
    }
    String adapter = adapter(next);
    if (adapter != null && !runningAdapters.containsKey(adapter) && runningAdapters.size() >= config.maxLoras()) {
      return false;
    }
    int cachedBlocks = cache.allocate(next.blocks, next.privateBlocks);
    if (cachedBlocks < 0) {
      return false;
    }
    waiting.pollFirst();
    adjust(waitingAdapters, next, -1);
    adjust(runningAdapters, next, 1);
    running++;
    start(next, cachedBlocks);
    return true;
  }

  private void start(Sequence sequence, int cachedBlocks) {
    sequence.admittedAt = clock.nanos();
    int uncached = Math.max(1, sequence.promptTokens - cachedBlocks * config.blockSize());
    sequence.cachedTokens = sequence.promptTokens - uncached;
    prefixQueries += sequence.promptTokens;
    prefixHits += sequence.cachedTokens;
    if (sequence.request.remotePrefill()) {
      sequence.transferredTokens = uncached - 1;
      clock.schedule(sequence.transferredTokens * config.kvTransferNanosPerToken() + config.prefillNanosPerToken(),
          () -> firstToken(sequence));
    } else {
      prefilling(true);
      clock.schedule(uncached * config.prefillNanosPerToken(), () -> firstToken(sequence));
    }
  }

  private void firstToken(Sequence sequence) {
    if (!sequence.request.remotePrefill()) {
      prefilling(false);
    }
    admit();
    sequence.firstTokenAt = clock.nanos();
    long ttftNanos = clock.nanos() - sequence.submittedAt;
    ttft.observe(ttftNanos / 1e9, 1);
    sequence.listener.firstToken(ttftNanos, sequence.cachedTokens);
    sequence.ttftNanos = ttftNanos;
    int remaining = sequence.request.outputTokens() - 1;
    if (remaining == 0) {
      complete(sequence);
    } else if (config.prefillStallsDecode()) {
      sequence.nextToken = 1;
      sequence.order = decodeOrder++;
      decodeFor(sequence, sequence.request.streamTokens() ? 1 : remaining);
    } else if (sequence.request.streamTokens()) {
      clock.schedule(config.decodeNanosPerToken(), () -> nextToken(sequence, 1));
    } else {
      clock.schedule(remaining * config.decodeNanosPerToken(), () -> complete(sequence));
    }
  }

  private void nextToken(Sequence sequence, int index) {
    sequence.listener.token(index);
    if (index + 1 == sequence.request.outputTokens()) {
      complete(sequence);
    } else {
      clock.schedule(config.decodeNanosPerToken(), () -> nextToken(sequence, index + 1));
    }
  }

  /** Starts or ends a local prefill; with interference, pauses or resumes decode. */
  private void prefilling(boolean on) {
    if (on == prefilling) {
      return;
    }
    if (on) {
      decodeTime = decodeNow();
      decodeEpoch++;
    } else {
      resumedAt = clock.nanos();
    }
    prefilling = on;
    scheduleDecode();
  }

  /** The decode time now: it stands still while the pod prefills. */
  private long decodeNow() {
    return prefilling ? decodeTime : decodeTime + clock.nanos() - resumedAt;
  }

  /** Queues {@code sequence}'s next decode event {@code tokens} tokens of decode time from now. */
  private void decodeFor(Sequence sequence, int tokens) {
    sequence.decodeDue = decodeNow() + tokens * config.decodeNanosPerToken();
    decoding.add(sequence);
    scheduleDecode();
  }

  /** Schedules the earliest decode event unless the pod is prefilling; any previously scheduled one is void. */
  private void scheduleDecode() {
    if (prefilling || decoding.isEmpty()) {
      return;
    }
    long epoch = ++decodeEpoch;
    clock.schedule(decoding.peek().decodeDue - decodeNow(), () -> {
      if (epoch == decodeEpoch) {
        decodeDue();
      }
    });
  }

  /** Emits the tokens and completes the sequences that are due, as {@link #nextToken} and {@link #complete} do. */
  private void decodeDue() {
    long now = decodeNow();
    while (!decoding.isEmpty() && decoding.peek().decodeDue <= now) {
      Sequence sequence = decoding.poll();
      if (!sequence.request.streamTokens()) {
        complete(sequence);
        continue;
      }
      int index = sequence.nextToken++;
      sequence.listener.token(index);
      if (index + 1 == sequence.request.outputTokens()) {
        complete(sequence);
      } else {
        decodeFor(sequence, 1);
      }
    }
    scheduleDecode();
  }

  private void complete(Sequence sequence) {
    long now = clock.nanos();
    int outputTokens = sequence.request.outputTokens();
    cache.release(sequence.blocks, sequence.privateBlocks,
        blocks(sequence.request.model(), sequence.request.prompt() + sequence.request.output()));
    adjust(runningAdapters, sequence, -1);
    running--;
    interToken.observe((outputTokens > 1 ? (now - sequence.firstTokenAt) / (outputTokens - 1)
        : config.decodeNanosPerToken()) / 1e9, outputTokens - 1L);
    e2e.observe((now - sequence.submittedAt) / 1e9, 1);
    queueTime.observe((sequence.admittedAt - sequence.submittedAt) / 1e9, 1);
    promptTokensTotal += sequence.promptTokens;
    promptTokensCacheHit += sequence.cachedTokens;
    promptTokensTransferred += sequence.transferredTokens;
    promptTokensComputed += sequence.promptTokens - sequence.cachedTokens - sequence.transferredTokens;
    generationTokensTotal += outputTokens;
    successes.merge(sequence.request.finishReason(), 1L, Long::sum);
    sequence.listener.completed(new Completion(sequence.promptTokens, sequence.cachedTokens, outputTokens,
        sequence.admittedAt - sequence.submittedAt, sequence.ttftNanos, now - sequence.submittedAt));
    admit();
  }

  /** The engine's state as the EPP's scraper would read it from {@code /metrics}, stamped {@code updatedNanos}. */
  EndpointMetrics endpointMetrics(long updatedNanos) {
    return EndpointMetrics.builder()
        .waitingQueueSize(waiting.size())
        .runningRequests(running)
        .kvCacheUsage(cache.usage())
        .activeModels(runningAdapters.keySet())
        .waitingModels(waitingAdapters.keySet())
        .maxActiveModels(config.loras().isEmpty() ? 0 : config.maxLoras())
        .cacheBlockSize(config.blockSize())
        .cacheNumBlocks(config.kvBlocks())
        .updatedNanos(updatedNanos)
        .build();
  }

  int waitingCount() {
    return waiting.size();
  }

  int runningCount() {
    return running;
  }

  double kvUsage() {
    return cache.usage();
  }

  /** Adapters with running requests, sorted. */
  Set<String> runningAdapters() {
    return runningAdapters.keySet();
  }

  /** Adapters with waiting requests, sorted. */
  Set<String> waitingAdapters() {
    return waitingAdapters.keySet();
  }

  /** The longest the waiting queue has been. */
  int maxWaiting() {
    return maxWaiting;
  }

  Histogram ttft() {
    return ttft;
  }

  Histogram interToken() {
    return interToken;
  }

  Histogram e2e() {
    return e2e;
  }

  Histogram queueTime() {
    return queueTime;
  }

  long promptTokensTotal() {
    return promptTokensTotal;
  }

  /** Prompt tokens of completed requests prefilled here: vLLM's {@code prompt_tokens_by_source{local_compute}}. */
  long promptTokensComputed() {
    return promptTokensComputed;
  }

  /** Prompt tokens of completed requests found in the local prefix cache ({@code local_cache_hit}). */
  long promptTokensCacheHit() {
    return promptTokensCacheHit;
  }

  /** Prompt tokens of completed requests pulled from a prefill pod ({@code external_kv_transfer}). */
  long promptTokensTransferred() {
    return promptTokensTransferred;
  }

  long generationTokensTotal() {
    return generationTokensTotal;
  }

  long prefixQueries() {
    return prefixQueries;
  }

  long prefixHits() {
    return prefixHits;
  }

  /** Completed requests by finish reason, sorted. */
  Map<String, Long> successes() {
    return successes;
  }

  /** The tokens and full blocks of {@code text} for {@code model}. */
  private TokenBlocks blocks(String model, String text) {
    return TokenBlocks.of(model, model.equals(config.model()) ? null : model, text, config.blockSize());
  }

  private String adapter(Sequence sequence) {
    String model = sequence.request.model();
    return model.equals(config.model()) ? null : model;
  }

  private void adjust(TreeMap<String, Integer> adapters, Sequence sequence, int delta) {
    String adapter = adapter(sequence);
    if (adapter != null) {
      adapters.merge(adapter, delta, (a, b) -> a + b == 0 ? null : a + b);
    }
  }

  /** One request's progress. */
  private static final class Sequence {
    final Request request;
    final Listener listener;
    final int promptTokens;
    final TokenBlocks blocks;
    final int privateBlocks;
    final long submittedAt;
    long admittedAt;
    long ttftNanos;
    long firstTokenAt;
    int cachedTokens;
    /** With interference: the next token index to stream, the decode time it is due, the order of its decode. */
    int nextToken;
    long decodeDue;
    long order;
    int transferredTokens;

    Sequence(Request request, Listener listener, int promptTokens, TokenBlocks blocks, int privateBlocks,
        long submittedAt) {
      this.request = request;
      this.listener = listener;
      this.promptTokens = promptTokens;
      this.blocks = blocks;
      this.privateBlocks = privateBlocks;
      this.submittedAt = submittedAt;
    }
  }
}
