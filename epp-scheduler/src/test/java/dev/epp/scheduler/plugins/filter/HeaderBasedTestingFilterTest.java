package dev.epp.scheduler.plugins.filter;

import static dev.epp.scheduler.plugins.filter.Filtering.kept;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.epp.api.Endpoint;
import dev.epp.api.PluginFactory;
import dev.epp.api.RequestContext;
import dev.epp.api.scheduling.Candidates;
import dev.epp.testkit.FilterContract;
import dev.epp.testkit.Fixtures;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class HeaderBasedTestingFilterTest implements FilterContract<HeaderBasedTestingFilter> {

  private static final Candidates DUAL_STACK =
      Candidates.of(
          List.of(
              Endpoint.of("v4-rank-0", "10.0.0.1", 8000),
              Endpoint.of("v4-rank-1", "10.0.0.1", 8001),
              Endpoint.of("v6-rank-0", "::1", 8000),
              Endpoint.of("v6b-rank-0", "fd00::2", 8000)));

  @Override
  public HeaderBasedTestingFilter newFilter() {
    return new HeaderBasedTestingFilter("header");
  }

  @Override
  public PluginFactory factory() {
    return new HeaderBasedTestingFilter.Factory();
  }

  /** Selects some of the fixtures' endpoints, so the contract sees the filter both keep and reject. */
  @Override
  public RequestContext newContext() {
    return selecting("192.168.1.2, 192.168.1.4:8000");
  }

  @Test
  void absentOrBlankHeaderRejectsAll() {
    assertEquals("{}", kept(newFilter(), Fixtures.context(), Fixtures.skewed()));
    assertEquals("{}", kept(newFilter(), selecting("  "), Fixtures.skewed()));
    assertEquals("{}", kept(newFilter(), selecting(""), Fixtures.skewed()));
  }

  @Test
  void keepsListedAddressesIgnoringSpaces() {
    assertEquals("{0, 2}", kept(newFilter(), selecting(" 192.168.1.1 ,192.168.1.3,"), Fixtures.skewed()));
    assertEquals("{1, 3}", kept(newFilter(), newContext(), Fixtures.skewed()));
  }

  @Test
  void addressKeepsEveryPortAndAddressWithPortOnlyThatPort() {
    assertEquals("{0, 1}", kept(newFilter(), selecting("10.0.0.1"), DUAL_STACK));
    assertEquals("{1}", kept(newFilter(), selecting("10.0.0.1:8001"), DUAL_STACK));
    assertEquals("{}", kept(newFilter(), selecting("10.0.0.1:9000"), DUAL_STACK));
    assertEquals("{}", kept(newFilter(), selecting("10.0.0.1:08000"), DUAL_STACK));
    assertEquals("{0, 1}", kept(newFilter(), selecting("10.0.0.1:"), DUAL_STACK));
  }

  @Test
  void acceptsIpv6BareBracketedAndWithPort() {
    assertEquals("{2}", kept(newFilter(), selecting("::1"), DUAL_STACK));
    assertEquals("{2}", kept(newFilter(), selecting("[::1]"), DUAL_STACK));
    assertEquals("{2}", kept(newFilter(), selecting("[::1]:8000"), DUAL_STACK));
    assertEquals("{}", kept(newFilter(), selecting("[::1]:8001"), DUAL_STACK));
    assertEquals("{2, 3}", kept(newFilter(), selecting("[FD00::2]:8000, ::1"), DUAL_STACK));
  }

  @Test
  void ignoresMalformedEntries() {
    assertEquals("{}", kept(newFilter(), selecting(",, ,[::1,[::1]x,10.0.0.1:80x,10.0.0.10,0.0.1"), DUAL_STACK));
    assertEquals("{0, 1}", kept(newFilter(), selecting("[::1, 10.0.0.1"), DUAL_STACK));
  }

  private static RequestContext selecting(String header) {
    return Fixtures.context(Fixtures.ADAPTER, Map.of(HeaderBasedTestingFilter.HEADER, header));
  }
}
