package dev.epp.examples.simulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The engine's cost model in virtual time, where every duration is exact. */
class SimulatedEngineTest {

  private static final String MODEL = "m";
  private static final long PREFILL = 1_000_000; // 1 ms per uncached token
  private static final long DECODE = 10_000_000; // 10 ms per token
  private static final long TRANSFER = 100_000; // 0.1 ms per transferred token

  private final VirtualClock clock = new VirtualClock();
  private final List<SimulatedEngine.Completion> done = new ArrayList<>();

  private SimulatedEngine engine(int maxNumSeqs, int kvBlocks) {
    return new SimulatedEngine(
        new EngineConfig(MODEL, List.of("lora-a", "lora-b"), 1, maxNumSeqs, kvBlocks, 16, PREFILL, DECODE, TRANSFER),
        clock);
  }

  private void submit(SimulatedEngine engine, String model, String prompt, int outputTokens) {
    engine.submit(new SimulatedEngine.Request(model, prompt, "tok ".repeat(outputTokens), false, "length", false),
        done::add);
  }

  /** {@code blocks} full blocks (64 characters each) of text unique to {@code tag}. */
  private static String text(String tag, int blocks) {
    StringBuilder s = new StringBuilder();
    while (s.length() < blocks * 64) {
      s.append(tag).append(' ').append(s.length()).append(' ');
    }
    return s.substring(0, blocks * 64);
  }

  @Test
  void aRepeatedPromptIsPrefilledOnlyForItsLastToken() {
    SimulatedEngine engine = engine(8, 64);
    String prompt = text("a", 10); // 160 tokens
    submit(engine, MODEL, prompt, 3);
    clock.run();
    submit(engine, MODEL, prompt, 3);
    clock.run();
    assertEquals(new SimulatedEngine.Completion(160, 0, 3, 0, 160 * PREFILL, 160 * PREFILL + 2 * DECODE), done.get(0));
    assertEquals(new SimulatedEngine.Completion(160, 159, 3, 0, PREFILL, PREFILL + 2 * DECODE), done.get(1));
    assertEquals(320, engine.prefixQueries());
    assertEquals(159, engine.prefixHits());
  }

  @Test
  void onlyTheSharedLeadingBlocksAreCachedAndTheModelSeedsTheChain() {
    SimulatedEngine engine = engine(8, 64);
    submit(engine, MODEL, text("a", 4) + text("b", 4), 1);
    clock.run();
    submit(engine, MODEL, text("a", 4) + text("c", 4), 1); // shares the first 4 blocks
    submit(engine, "lora-a", text("a", 4) + text("b", 4), 1); // same text, other model: nothing shared
    clock.run();
    assertEquals(List.of(0, 64, 0), done.stream().map(SimulatedEngine.Completion::cachedTokens).toList());
  }

  @Test
  void aFollowUpTurnHitsThePreviousPromptAndOutput() {
    SimulatedEngine engine = engine(8, 64);
    String prompt = text("a", 4);
    engine.submit(new SimulatedEngine.Request(MODEL, prompt, text("reply", 2), false, "length", false), done::add);
    clock.run();
    submit(engine, MODEL, prompt + text("reply", 2) + text("next", 1), 1);
    clock.run();
    assertEquals(6 * 16, done.get(1).cachedTokens());
  }

  private void submitRemotePrefilled(SimulatedEngine engine, String prompt, int outputTokens) {
    engine.submit(new SimulatedEngine.Request(MODEL, prompt, "tok ".repeat(outputTokens), false, "length", true),
        done::add);
  }

  @Test
  void aRemotelyPrefilledPromptIsTransferredWithoutWaitingForThePrefillUnit() {
    SimulatedEngine engine = engine(8, 64);
    submit(engine, MODEL, text("local", 10), 2); // 160 tokens: holds the prefill unit for 160 ms
    submitRemotePrefilled(engine, text("remote", 10), 2); // 159 tokens transferred, the last one computed
    assertEquals(2, engine.runningCount());
    assertEquals(0, engine.waitingCount());
    assertEquals(2 * 11 / 64.0, engine.kvUsage(), 1e-9); // 160 + 2 tokens each: 11 blocks
    clock.run();
    SimulatedEngine.Completion remote = done.get(0);
    assertEquals(new SimulatedEngine.Completion(160, 0, 2, 0, 159 * TRANSFER + PREFILL,
        159 * TRANSFER + PREFILL + DECODE), remote);
    assertEquals(160 * PREFILL, done.get(1).ttftNanos());
    assertEquals(320, engine.promptTokensTotal());
    assertEquals(160 + 1, engine.promptTokensComputed());
    assertEquals(159, engine.promptTokensTransferred());
    assertEquals(0, engine.promptTokensCacheHit());
  }

  @Test
  void aRemotePrefillTransfersOnlyWhatIsNotCachedAndLeavesThePromptCached() {
    SimulatedEngine engine = engine(8, 64);
    String prompt = text("a", 4) + text("b", 6); // 160 tokens
    submit(engine, MODEL, text("a", 4), 1); // caches the first 4 blocks locally
    clock.run();
    submitRemotePrefilled(engine, prompt, 1);
    clock.run();
    assertEquals(new SimulatedEngine.Completion(160, 64, 1, 0, 95 * TRANSFER + PREFILL, 95 * TRANSFER + PREFILL),
        done.get(1));
    assertEquals(95, engine.promptTokensTransferred());
    assertEquals(64, engine.promptTokensCacheHit());
    submit(engine, MODEL, prompt, 1); // the transferred blocks are resident now
    clock.run();
    assertEquals(159, done.get(2).cachedTokens());
  }

  @Test
  void requestsBeyondMaxNumSeqsWaitAndPrefillIsSerialised() {
    SimulatedEngine engine = engine(2, 64);
    submit(engine, MODEL, text("a", 1), 10); // 16 tokens: prefill 16 ms, then 9 more tokens
    submit(engine, MODEL, text("b", 1), 10); // waits for the prefill unit
    submit(engine, MODEL, text("c", 1), 10); // waits for a sequence slot
    assertEquals(1, engine.runningCount());
    assertEquals(2, engine.waitingCount());
    clock.run();
    assertEquals(List.of(16 * PREFILL, 32 * PREFILL, 16 * PREFILL + 9 * DECODE + 16 * PREFILL),
        done.stream().map(SimulatedEngine.Completion::ttftNanos).toList());
    assertEquals(List.of(0L, 16 * PREFILL, 16 * PREFILL + 9 * DECODE),
        done.stream().map(SimulatedEngine.Completion::queueNanos).toList());
    assertEquals(2, engine.maxWaiting());
  }

  @Test
  void withInterferenceALocalPrefillStallsTheRunningSequences() {
    SimulatedEngine engine = new SimulatedEngine(
        new EngineConfig(MODEL, List.of(), 1, 8, 64, 16, PREFILL, DECODE, TRANSFER).withPrefillStallingDecode(), clock);
    submit(engine, MODEL, text("a", 1), 10); // prefill 0-16 ms, then 9 tokens
    clock.runUntil(50 * PREFILL);
    submit(engine, MODEL, text("b", 1), 10); // prefill 50-66 ms: a emits nothing meanwhile
    clock.run();
    assertEquals(List.of(16 * PREFILL + 9 * DECODE + 16 * PREFILL, 16 * PREFILL + 9 * DECODE),
        done.stream().map(SimulatedEngine.Completion::e2eNanos).toList());
    assertEquals(List.of(16 * PREFILL, 16 * PREFILL), done.stream().map(SimulatedEngine.Completion::ttftNanos).toList());
  }

  @Test
  void withInterferenceStreamedTokensPauseForAPrefillButNotForAKvTransfer() {
    for (boolean remote : new boolean[] {false, true}) {
      VirtualClock clock = new VirtualClock();
      SimulatedEngine engine = new SimulatedEngine(
          new EngineConfig(MODEL, List.of(), 1, 8, 64, 16, PREFILL, DECODE, TRANSFER).withPrefillStallingDecode(),
          clock);
      List<Long> tokenTimes = new ArrayList<>();
      engine.submit(new SimulatedEngine.Request(MODEL, text("a", 1), "tok ".repeat(4), true, "length", false),
          new SimulatedEngine.Listener() {
            @Override
            public void token(int index) {
              tokenTimes.add(clock.nanos());
            }

            @Override
            public void completed(SimulatedEngine.Completion completion) {
              tokenTimes.add(clock.nanos());
            }
          });
      clock.runUntil(25 * PREFILL);
      // b is prefilled here from 25 to 41 ms, or its 15 uncached tokens but the last are transferred
      engine.submit(new SimulatedEngine.Request(MODEL, text("b", 1), "tok ", false, "length", remote), done::add);
      clock.run();
      long stall = remote ? 0 : 16 * PREFILL;
      assertEquals(List.of(16 * PREFILL + DECODE + stall, 16 * PREFILL + 2 * DECODE + stall,
          16 * PREFILL + 3 * DECODE + stall, 16 * PREFILL + 3 * DECODE + stall), tokenTimes, "remote " + remote);
      assertEquals(DECODE + stall / 3, engine.interToken().sum() * 1e9 / 3, 1, "remote " + remote);
    }
  }

  @Test
  void kvUsageCountsHeldBlocksAndEvictionIsLeastRecentlyUsed() {
    SimulatedEngine engine = engine(8, 12);
    submit(engine, MODEL, text("a", 4), 16); // 4 prompt blocks + 1 output block
    assertEquals(5 / 12.0, engine.kvUsage(), 1e-9);
    clock.run();
    assertEquals(0, engine.kvUsage());
    submit(engine, MODEL, text("b", 4), 16); // fits beside a's 5 cached blocks
    clock.run();
    submit(engine, MODEL, text("c", 6), 16); // needs 7 blocks, 2 are free: evicts a's 5, the least recently used
    clock.run();
    submit(engine, MODEL, text("b", 4), 16);
    submit(engine, MODEL, text("a", 4), 16);
    clock.run();
    assertEquals(List.of(0, 0, 0, 63, 0), done.stream().map(SimulatedEngine.Completion::cachedTokens).toList());
  }

  @Test
  void loraSlotsLimitWhichAdaptersRunTogether() {
    SimulatedEngine engine = engine(8, 64);
    submit(engine, "lora-a", text("a", 1), 5); // prefill ends at 16 ms, decode at 56 ms
    submit(engine, "lora-b", text("b", 1), 5);
    clock.runUntil(30 * PREFILL);
    assertEquals(Set.of("lora-a"), engine.endpointMetrics(0).activeModels());
    assertEquals(Set.of("lora-b"), engine.endpointMetrics(0).waitingModels());
    clock.run();
    assertEquals(List.of(0L, 56 * PREFILL), done.stream().map(SimulatedEngine.Completion::queueNanos).toList());
    assertEquals(Set.of(), engine.runningAdapters());
  }

  @Test
  void rejectsUnknownModelsAndRequestsLargerThanTheCache() {
    SimulatedEngine engine = engine(8, 4);
    assertThrows(IllegalArgumentException.class, () -> submit(engine, "other", "hi", 1));
    assertThrows(IllegalArgumentException.class, () -> submit(engine, MODEL, text("a", 4), 1));
  }

  @Test
  void tokensAreCharactersOverFourRoundedUp() {
    assertEquals(1, SimulatedEngine.tokens(""));
    assertEquals(1, SimulatedEngine.tokens("abcd"));
    assertEquals(2, SimulatedEngine.tokens("abcde"));
  }
}
