package dev.epp.api.requestcontrol;

import dev.epp.api.Plugin;
import dev.epp.api.RequestContext;
import dev.epp.api.scheduling.Candidates;
import java.util.concurrent.CompletionStage;

/**
 * Computes per-request data that needs a remote call (for example the prompt's token ids from a tokenizer service)
 * and stores it in the {@link RequestContext}. Every such plugin starts before any {@link PrepareData} runs; the
 * request waits until all of them complete, then the {@link PrepareData} plugins see their data.
 *
 * <p>A stage that completes exceptionally, or a plugin that throws, is logged and skipped: scheduling goes on without
 * its data. The plugin bounds its own wait (a timeout) and should complete normally with no data rather than fail.
 *
 * <p><b>Threading:</b> called concurrently for different requests; must be thread-safe and must not block the caller:
 * the remote call completes the stage on another thread.
 */
public interface AsyncPrepareData extends Plugin {

  /**
   * Starts preparing data for one request.
   *
   * @param candidates every candidate endpoint of the request, before filtering
   * @return a stage that completes once the data is in {@code context}
   */
  CompletionStage<Void> prepareDataAsync(RequestContext context, Candidates candidates);
}
