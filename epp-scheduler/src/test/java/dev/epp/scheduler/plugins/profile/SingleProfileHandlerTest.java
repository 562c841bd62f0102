package dev.epp.scheduler.plugins.profile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.epp.api.InferenceException;
import dev.epp.api.PluginFactory;
import dev.epp.api.scheduling.ProfileResult;
import dev.epp.api.scheduling.SchedulingResult;
import dev.epp.testkit.Fixtures;
import dev.epp.testkit.PluginContract;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SingleProfileHandlerTest implements PluginContract {

  private final SingleProfileHandler handler = new SingleProfileHandler("handler");
  private final ProfileResult found = new ProfileResult(List.of(Fixtures.endpoint(0), Fixtures.endpoint(1)));

  @Override
  public PluginFactory factory() {
    return new SingleProfileHandler.Factory();
  }

  @Test
  void runsTheProfilesOnce() {
    List<String> profiles = List.of("default");
    assertEquals(profiles, handler.pickProfiles(newContext(), profiles, Map.of()));
    assertEquals(List.of(), handler.pickProfiles(newContext(), profiles, Map.of("default", found)));
    assertEquals(List.of(), handler.pickProfiles(newContext(), profiles, Map.of("default", ProfileResult.none())));
  }

  @Test
  void makesTheOnlyProfilePrimary() {
    SchedulingResult result = handler.processResults(newContext(), Map.of("default", found));
    assertEquals("default", result.primaryProfile());
    assertEquals(found.targets(), result.targets());
  }

  @Test
  void profileWithoutEndpointsIsResourceExhausted() {
    InferenceException e =
        assertThrows(
            InferenceException.class,
            () -> handler.processResults(newContext(), Map.of("default", ProfileResult.none())));
    assertEquals(InferenceException.Code.RESOURCE_EXHAUSTED, e.code());
    assertEquals("failed to find target endpoint: failed to run scheduler profile 'default'", e.getMessage());
  }

  @Test
  void otherThanOneResultIsResourceExhausted() {
    List<Map<String, ProfileResult>> notOne = List.of(Map.of(), Map.of("a", found, "b", found));
    for (Map<String, ProfileResult> results : notOne) {
      InferenceException e =
          assertThrows(InferenceException.class, () -> handler.processResults(newContext(), results));
      assertEquals(InferenceException.Code.RESOURCE_EXHAUSTED, e.code());
    }
  }
}
