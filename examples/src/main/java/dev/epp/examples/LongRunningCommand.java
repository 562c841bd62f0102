package dev.epp.examples;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;

/**
 * A command that serves until it is stopped ({@code server}, {@code gateway}, {@code demo}): {@link #run} starts it
 * and returns its exit code once {@link #stop()} is called, so tests drive it in-process and {@link Main} stops it
 * from a shutdown hook.
 *
 * <p><b>Threading:</b> {@link #run} runs once, on one thread; the other methods may be called from any thread.
 *
 * @param <T> what a started command publishes (e.g. its bound ports)
 */
abstract class LongRunningCommand<T> {

  private final CountDownLatch stopRequested = new CountDownLatch(1);
  private final CountDownLatch finished = new CountDownLatch(1);
  private final CompletableFuture<T> started = new CompletableFuture<>();

  /** Runs the command until {@link #stop()}; returns its exit code (0 after a stop, 1 start failure, 2 usage). */
  final int run(String[] args) {
    try {
      return serve(args);
    } finally {
      started.complete(null);
      finished.countDown();
    }
  }

  /** Asks {@link #run} to stop and return; does not wait. Idempotent. */
  final void stop() {
    stopRequested.countDown();
  }

  /** Waits until {@link #run} has returned. */
  final void awaitFinished() throws InterruptedException {
    finished.await();
  }

  /** Completes with what the command started, or with {@code null} if {@link #run} returned without starting. */
  final CompletableFuture<T> started() {
    return started;
  }

  /** Parses {@code args}, starts, calls {@link #awaitStop} and cleans up; returns the exit code. */
  abstract int serve(String[] args);

  /** Publishes {@code running} to {@link #started()} and blocks until {@link #stop()} (or an interrupt). */
  final void awaitStop(T running) {
    started.complete(running);
    try {
      stopRequested.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
