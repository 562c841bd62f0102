package dev.epp.scheduler.plugins.disagg;

import static dev.epp.scheduler.plugins.filter.Filtering.kept;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.epp.api.Endpoint;
import dev.epp.api.Parameters;
import dev.epp.api.PluginFactory;
import dev.epp.api.scheduling.Candidates;
import dev.epp.testkit.FilterContract;
import dev.epp.testkit.Fixtures;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RoleFilterTest implements FilterContract<RoleFilter> {

  /**
   * Endpoints 0..8: encode, prefill, decode, encode-prefill, prefill-decode, encode-prefill-decode, both, an unknown
   * role, and no role label.
   */
  private static final Candidates ROLES = candidates("encode", "prefill", "decode", "encode-prefill",
      "prefill-decode", "encode-prefill-decode", "both", "router", null);

  private static Candidates candidates(String... roles) {
    List<Endpoint> endpoints = new ArrayList<>();
    for (int i = 0; i < roles.length; i++) {
      endpoints.add(Fixtures.endpoint(i, roles[i] == null ? Map.of() : Map.of(RoleFilter.ROLE_LABEL, roles[i])));
    }
    return Candidates.of(endpoints);
  }

  @Override
  public RoleFilter newFilter() {
    return RoleFilter.decode("decode-filter");
  }

  @Override
  public PluginFactory factory() {
    return new RoleFilter.DecodeFactory();
  }

  @Override
  public Parameters validParameters() {
    return Parameters.empty();
  }

  @Test
  void prefillFilterKeepsEveryRoleThatPrefills() {
    assertEquals("{1, 3, 4, 5, 6}", kept(RoleFilter.prefill("p"), Fixtures.context(), ROLES));
  }

  @Test
  void decodeFilterKeepsEveryRoleThatDecodesAndUnlabelledEndpoints() {
    assertEquals("{2, 4, 5, 6, 8}", kept(RoleFilter.decode("d"), Fixtures.context(), ROLES));
  }

  @Test
  void encodeFilterKeepsEveryRoleThatEncodes() {
    assertEquals("{0, 3, 5}", kept(RoleFilter.encode("e"), Fixtures.context(), ROLES));
  }

  @Test
  void factoriesCreateTheirTypes() {
    assertEquals("prefill-filter", new RoleFilter.PrefillFactory().type());
    assertEquals("decode-filter", new RoleFilter.DecodeFactory().type());
    assertEquals("encode-filter", new RoleFilter.EncodeFactory().type());
  }
}
