package dev.epp.testkit;

import dev.epp.api.scheduling.Candidates;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/** What the contract kits share: running a call from many threads at once, and snapshots of inputs. */
final class ContractSupport {

  static final int THREADS = 8;
  static final int CALLS_PER_THREAD = 1000;

  private ContractSupport() {}

  /** One call under test. */
  @FunctionalInterface
  interface Call {
    void run() throws Exception;
  }

  /**
   * Runs {@code call} {@link #CALLS_PER_THREAD} times on each of {@link #THREADS} threads released together, and
   * rethrows the first failure. Waits at most a minute per thread so a deadlock fails instead of hanging.
   */
  static void hammer(Call call) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(THREADS);
    try {
      CountDownLatch start = new CountDownLatch(1);
      List<Future<?>> futures = new ArrayList<>();
      for (int t = 0; t < THREADS; t++) {
        futures.add(
            pool.submit(
                () -> {
                  start.await();
                  for (int c = 0; c < CALLS_PER_THREAD; c++) {
                    call.run();
                  }
                  return null;
                }));
      }
      start.countDown();
      for (Future<?> future : futures) {
        try {
          future.get(1, TimeUnit.MINUTES);
        } catch (ExecutionException e) {
          if (e.getCause() instanceof AssertionError assertion) {
            throw assertion;
          }
          throw new AssertionError("a concurrent call failed", e.getCause());
        }
      }
    } finally {
      pool.shutdownNow();
    }
  }

  /** The endpoints and metrics of {@code candidates}, in order, to compare before and after a plugin call. */
  static List<Object> snapshot(Candidates candidates) {
    List<Object> out = new ArrayList<>();
    for (int i = 0; i < candidates.size(); i++) {
      out.add(candidates.endpoint(i));
      out.add(candidates.metrics(i));
    }
    return out;
  }
}
