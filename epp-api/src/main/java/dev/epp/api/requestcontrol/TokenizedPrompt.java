package dev.epp.api.requestcontrol;

import dev.epp.api.StateKey;

/**
 * The request's prompt as the model's token ids, as a token producer (e.g. {@code token-producer}) stores it under
 * {@link #KEY} before the {@link PrepareData} plugins run. Absent when no producer ran or tokenizing failed.
 *
 * @param tokenIds the prompt's token ids, in order; owned by this record and not modified after it is stored
 * @param exact whether the ids are the model's own (from its tokenizer) rather than an estimate
 */
public record TokenizedPrompt(int[] tokenIds, boolean exact) {

  /** Where the request's tokenized prompt is stored. */
  public static final StateKey<TokenizedPrompt> KEY = StateKey.of("tokenized-prompt", TokenizedPrompt.class);
}
