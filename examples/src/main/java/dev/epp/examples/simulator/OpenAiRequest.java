package dev.epp.examples.simulator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;

/**
 * An OpenAI completions or chat-completions request as the simulator reads it.
 *
 * <p>The prompt of a chat request is its messages rendered with a ChatML template, each as
 * {@code <|im_start|>role\ncontent<|im_end|>\n}, followed by {@code <|im_start|>assistant\n}; content is a string or
 * the concatenated {@code text} of its parts. A follow-up turn's prompt therefore starts with the previous turn's
 * prompt, so multi-turn chats hit the prefix cache. A completions prompt is a string or strings concatenated.
 *
 * @param chat whether it is a chat-completions request
 * @param model the requested model
 * @param prompt the prompt text, template applied
 * @param lastUserText the last user message (chat) or the prompt (completions): what {@code --echo} returns
 * @param maxTokens {@code max_completion_tokens}, else {@code max_tokens}, or 0 if neither is given
 * @param stream whether the response is a server-sent-event stream
 * @param includeUsage whether a streamed response ends with a usage chunk ({@code stream_options.include_usage})
 * @param remoteDecode {@code kv_transfer_params.do_remote_decode}: a decode pod's sidecar asks this pod to prefill
 *     and keep the KV for the decode pod to pull
 */
record OpenAiRequest(boolean chat, String model, String prompt, String lastUserText, int maxTokens, boolean stream,
    boolean includeUsage, boolean remoteDecode) {

  static final ObjectMapper JSON = new ObjectMapper();

  /**
   * Parses a request body.
   *
   * @param chat whether the path was {@code /v1/chat/completions}
   * @throws IllegalArgumentException with a client-facing message if the body is invalid
   */
  static OpenAiRequest parse(boolean chat, byte[] body) {
    JsonNode root;
    try {
      root = JSON.readTree(body);
    } catch (IOException e) {
      throw new IllegalArgumentException("invalid JSON body: " + e.getMessage(), e);
    }
    if (root == null || !root.isObject()) {
      throw new IllegalArgumentException("the request body must be a JSON object");
    }
    JsonNode model = root.path("model");
    if (!model.isTextual() || model.asText().isEmpty()) {
      throw new IllegalArgumentException("'model' is required");
    }
    JsonNode maxTokens = root.has("max_completion_tokens") ? root.path("max_completion_tokens")
        : root.path("max_tokens");
    if (!maxTokens.isMissingNode() && !maxTokens.isNull() && (!maxTokens.canConvertToInt() || maxTokens.asInt() < 1)) {
      throw new IllegalArgumentException("max_tokens must be a positive integer");
    }
    boolean stream = root.path("stream").asBoolean(false);
    boolean includeUsage = stream && root.path("stream_options").path("include_usage").asBoolean(false);
    String prompt;
    String lastUser;
    if (chat) {
      JsonNode messages = root.path("messages");
      if (!messages.isArray() || messages.isEmpty()) {
        throw new IllegalArgumentException("'messages' must be a non-empty array");
      }
      lastUser = "";
      for (JsonNode message : messages) {
        if (message.path("role").asText("user").equals("user")) {
          lastUser = content(message.path("content"));
        }
      }
      prompt = chatPrompt(messages);
    } else {
      JsonNode value = root.path("prompt");
      if (value.isTextual()) {
        prompt = value.asText();
      } else if (value.isArray() && !value.isEmpty()) {
        StringBuilder joined = new StringBuilder();
        value.forEach(part -> joined.append(part.asText()));
        prompt = joined.toString();
      } else {
        throw new IllegalArgumentException("'prompt' must be a string or an array of strings");
      }
      lastUser = prompt;
    }
    return new OpenAiRequest(chat, model.asText(), prompt, lastUser, maxTokens.asInt(0), stream, includeUsage,
        root.path("kv_transfer_params").path("do_remote_decode").asBoolean(false));
  }

  /** The prompt of a chat's {@code messages} (an array), with the ChatML template of the class comment applied. */
  static String chatPrompt(JsonNode messages) {
    StringBuilder rendered = new StringBuilder();
    for (JsonNode message : messages) {
      rendered.append("<|im_start|>").append(message.path("role").asText("user")).append('\n')
          .append(content(message.path("content"))).append("<|im_end|>\n");
    }
    return rendered.append("<|im_start|>assistant\n").toString();
  }

  private static String content(JsonNode content) {
    if (content.isArray()) {
      StringBuilder text = new StringBuilder();
      content.forEach(part -> text.append(part.path("text").asText("")));
      return text.toString();
    }
    return content.asText("");
  }
}
