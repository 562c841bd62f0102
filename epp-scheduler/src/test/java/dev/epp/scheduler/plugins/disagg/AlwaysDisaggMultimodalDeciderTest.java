package dev.epp.scheduler.plugins.disagg;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.InferenceRequest;
import dev.epp.api.RequestBody;
import dev.epp.api.RequestContext;
import org.junit.jupiter.api.Test;

class AlwaysDisaggMultimodalDeciderTest {

  private final AlwaysDisaggMultimodalDecider decider = new AlwaysDisaggMultimodalDecider("mm");

  private boolean decides(RequestBody.Api api, String prompt) {
    RequestBody body = new RequestBody(api, false, "", prompt);
    return decider.disaggregate(new RequestContext(InferenceRequest.builder().body(body).build()), null);
  }

  @Test
  void chatMessagesWithAnImageVideoOrAudioPartAreDisaggregated() {
    for (String part : new String[] {
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x/cat.png\"}}",
        "{\"type\": \"video_url\", \"video_url\": {\"url\": \"https://x/v.mp4\"}}",
        "{\"input_audio\":{\"data\":\"AAAA\",\"format\":\"wav\"},\"type\":\"input_audio\"}"}) {
      String messages = "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}," + part + "]}]";
      assertTrue(decides(RequestBody.Api.CHAT_COMPLETIONS, messages), part);
    }
  }

  @Test
  void textOnlyMessagesAreNot() {
    assertFalse(decides(RequestBody.Api.CHAT_COMPLETIONS,
        "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"image_url\"}]}]"));
    assertFalse(decides(RequestBody.Api.CHAT_COMPLETIONS,
        "[{\"role\":\"user\",\"content\":\"say \\\"type\\\":\\\"image_url\\\"\"}]"));
    assertFalse(decides(RequestBody.Api.CHAT_COMPLETIONS, "[{\"role\":\"user\",\"content\":\"hi\"}]"));
  }

  @Test
  void otherApisAreNot() {
    assertFalse(decides(RequestBody.Api.COMPLETIONS, "{\"type\":\"image_url\"}"));
  }
}
