package dev.epp.api.requestcontrol;

/**
 * Token usage reported by the model server.
 *
 * @param promptTokens input tokens
 * @param completionTokens output tokens
 * @param totalTokens input plus output tokens
 * @param cachedTokens input tokens served from the prefix cache
 */
public record Usage(long promptTokens, long completionTokens, long totalTokens, long cachedTokens) {

  private static final Usage NONE = new Usage(0, 0, 0, 0);

  /** Validates that no count is negative. */
  public Usage {
    if (promptTokens < 0 || completionTokens < 0 || totalTokens < 0 || cachedTokens < 0) {
      throw new IllegalArgumentException("token counts must not be negative");
    }
  }

  /** No usage reported. */
  public static Usage none() {
    return NONE;
  }
}
