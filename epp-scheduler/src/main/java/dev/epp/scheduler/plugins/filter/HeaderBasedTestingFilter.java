package dev.epp.scheduler.plugins.filter;

import dev.epp.api.Endpoint;
import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.TypedName;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.Filter;
import java.util.BitSet;

/**
 * <b>For conformance tests only.</b> Keeps the endpoints named in the request header {@value #HEADER}: a
 * comma-separated list of addresses ({@code 10.0.0.1}, {@code ::1}, {@code [::1]}), which select every endpoint at that
 * address, or {@code address:port} ({@code 10.0.0.1:8000}, {@code [::1]:8000}), which select only that port. Spaces
 * around entries are ignored; addresses compare case-insensitively. An absent or blank header rejects every endpoint.
 * No parameters.
 *
 * <p>Differs from Go: Go also reorders the endpoints into header order and keeps one endpoint per address for
 * address-only entries; a {@link Filter} can only remove candidates, so this keeps every match in candidate order.
 */
public final class HeaderBasedTestingFilter implements Filter {

  /** The plugin type. */
  public static final String TYPE = "header-based-testing-filter";

  /** The request header listing the endpoints to keep. */
  public static final String HEADER = "test-epp-endpoint-selection";

  private final TypedName typedName;

  /** A filter named {@code name}. */
  public HeaderBasedTestingFilter(String name) {
    this.typedName = new TypedName(TYPE, name);
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public void filter(RequestContext context, Candidates candidates, BitSet keep) {
    String header = context.request().headers().get(HEADER);
    int n = candidates.size();
    if (header == null || header.isBlank()) {
      keep.clear(0, n);
      return;
    }
    for (int i = 0; i < n; i++) {
      if (!selects(header, candidates.endpoint(i))) {
        keep.clear(i);
      }
    }
  }

  /** Whether any entry of {@code header} selects {@code endpoint}; scans the header in place, allocation-free. */
  private static boolean selects(String header, Endpoint endpoint) {
    int start = 0;
    while (start <= header.length()) {
      int comma = header.indexOf(',', start);
      int end = comma < 0 ? header.length() : comma;
      if (entrySelects(header, trimStart(header, start, end), trimEnd(header, start, end), endpoint)) {
        return true;
      }
      start = end + 1;
    }
    return false;
  }

  private static boolean entrySelects(String s, int from, int to, Endpoint endpoint) {
    if (from >= to) {
      return false;
    }
    int hostFrom = from;
    int hostTo = to;
    int portFrom = to; // no port
    if (s.charAt(from) == '[') {
      int close = s.indexOf(']', from);
      if (close < 0 || close >= to) {
        return false;
      }
      hostFrom = from + 1;
      hostTo = close;
      if (close + 1 < to) {
        if (s.charAt(close + 1) != ':') {
          return false;
        }
        portFrom = close + 2;
      }
    } else {
      int colon = s.indexOf(':', from);
      if (colon >= 0 && colon < to && s.lastIndexOf(':', to - 1) == colon) { // exactly one colon: host:port
        hostTo = colon;
        portFrom = colon + 1;
      } // otherwise a bare host or an unbracketed IPv6 address
    }
    String address = endpoint.address();
    int hostLength = hostTo - hostFrom;
    if (hostLength != address.length() || !s.regionMatches(true, hostFrom, address, 0, hostLength)) {
      return false;
    }
    return portFrom >= to || portMatches(s, portFrom, to, endpoint.port());
  }

  /** Whether {@code s[from, to)} is exactly the decimal form of {@code port}, as Go's string comparison requires. */
  private static boolean portMatches(String s, int from, int to, int port) {
    if (to - from > 5 || (s.charAt(from) == '0' && to - from > 1)) {
      return false;
    }
    int value = 0;
    for (int i = from; i < to; i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') {
        return false;
      }
      value = value * 10 + (c - '0');
    }
    return value == port;
  }

  private static int trimStart(String s, int from, int to) {
    while (from < to && Character.isWhitespace(s.charAt(from))) {
      from++;
    }
    return from;
  }

  private static int trimEnd(String s, int from, int to) {
    while (to > from && Character.isWhitespace(s.charAt(to - 1))) {
      to--;
    }
    return to;
  }

  /** Creates {@link HeaderBasedTestingFilter}s. */
  public static final class Factory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public Factory() {}

    @Override
    public String type() {
      return TYPE;
    }

    @Override
    public HeaderBasedTestingFilter create(PluginSpec spec, PluginHandle handle) {
      return new HeaderBasedTestingFilter(spec.name());
    }
  }
}
