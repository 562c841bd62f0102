package dev.epp.kvcache.events;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** A sink that records every call in order; applies for {@link #BLOCKING_MODEL} wait for {@link #release()}. */
final class RecordingSink implements KvEventSink {

  static final String BLOCKING_MODEL = "blocking";
  static final String FAILING_MODEL = "failing";

  /** One call: {@code model} is {@code null} for a clear. */
  record Call(String endpoint, String model, List<KvEvent> events) {
    boolean isClear() {
      return model == null;
    }
  }

  private final List<Call> calls = new CopyOnWriteArrayList<>();
  private final CountDownLatch released = new CountDownLatch(1);

  @Override
  public void apply(String endpoint, String model, List<KvEvent> events) {
    if (model.equals(FAILING_MODEL)) {
      throw new IllegalStateException("sink failure");
    }
    if (model.equals(BLOCKING_MODEL)) {
      try {
        released.await(2, TimeUnit.MINUTES);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    calls.add(new Call(endpoint, model, events));
  }

  @Override
  public void clear(String endpoint) {
    calls.add(new Call(endpoint, null, List.of()));
  }

  void release() {
    released.countDown();
  }

  /** The calls for {@code endpoint}, in order. */
  List<Call> calls(String endpoint) {
    List<Call> result = new ArrayList<>();
    for (Call c : calls) {
      if (c.endpoint().equals(endpoint)) {
        result.add(c);
      }
    }
    return result;
  }

  /** The applies of {@code model} for {@code endpoint}, in order. */
  List<Call> applies(String endpoint, String model) {
    return calls(endpoint).stream().filter(c -> model.equals(c.model())).toList();
  }

  long clears(String endpoint) {
    return calls(endpoint).stream().filter(Call::isClear).count();
  }
}
