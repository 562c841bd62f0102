package dev.epp.discovery;

/**
 * An endpoint address as discovery accepts it: {@code <ipv4>:<port>} or {@code [<ipv6>]:<port>}. The address must be
 * an IP literal: the gateway's original-destination cluster connects to it as given and resolves no host names. IPv4
 * is four decimal numbers 0 to 255 without leading zeros; IPv6 is the usual hexadecimal form (with {@code ::} and an
 * optional trailing IPv4 part), without a zone.
 *
 * @param ip the IP literal, IPv6 without brackets, as written
 * @param port 1 to 65535
 */
public record IpPort(String ip, int port) {

  /** Validates the components. */
  public IpPort {
    if (!isIpLiteral(ip)) {
      throw new IllegalArgumentException(notAnIp(ip));
    }
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("port " + port + " is not in 1..65535");
    }
  }

  /**
   * Parses {@code <ipv4>:<port>} or {@code [<ipv6>]:<port>}.
   *
   * @throws IllegalArgumentException with a message for the user (without {@code text} itself) if it is not one
   */
  public static IpPort parse(String text) {
    boolean bracketed = text.startsWith("[");
    int colon = bracketed ? text.indexOf("]:") + 1 : text.indexOf(':');
    if (colon <= 0 || (!bracketed && text.indexOf(':', colon + 1) >= 0)) {
      throw new IllegalArgumentException("expected ip:port ([ipv6]:port)");
    }
    String ip = bracketed ? text.substring(1, colon - 1) : text.substring(0, colon);
    if (bracketed && !isIpv6(ip)) {
      throw new IllegalArgumentException("'" + ip + "' is not an IPv6 address (only IPv6 is written in brackets)");
    }
    String port = text.substring(colon + 1);
    if (port.isEmpty() || port.length() > 5 || !port.chars().allMatch(IpPort::isDigit)
        || Integer.parseInt(port) < 1 || Integer.parseInt(port) > 65535) {
      throw new IllegalArgumentException("port '" + port + "' is not a number in 1..65535");
    }
    return new IpPort(ip, Integer.parseInt(port));
  }

  /** {@code <ipv4>:<port>} or {@code [<ipv6>]:<port>}, as {@link #parse} reads it. */
  @Override
  public String toString() {
    return ip.indexOf(':') >= 0 ? "[" + ip + "]:" + port : ip + ":" + port;
  }

  /** Whether {@code address} is an IPv4 or IPv6 literal (IPv6 without brackets or zone). */
  public static boolean isIpLiteral(String address) {
    return address.indexOf(':') >= 0 ? isIpv6(address) : isIpv4(address);
  }

  /** The message for an address that is not an IP literal. */
  static String notAnIp(String address) {
    return "'" + address + "' is not an IP address: an IPv4 or IPv6 literal is required (host names are not resolved)";
  }

  private static boolean isIpv4(String s) {
    String[] parts = s.split("\\.", -1);
    if (parts.length != 4) {
      return false;
    }
    for (String part : parts) {
      if (part.isEmpty() || part.length() > 3 || (part.length() > 1 && part.charAt(0) == '0')
          || !part.chars().allMatch(IpPort::isDigit) || Integer.parseInt(part) > 255) {
        return false;
      }
    }
    return true;
  }

  private static boolean isIpv6(String s) {
    int gap = s.indexOf("::");
    if (gap < 0) {
      return groups(s, true) == 8;
    }
    if (s.indexOf("::", gap + 1) >= 0) {
      return false;
    }
    int head = groups(s.substring(0, gap), false);
    int tail = groups(s.substring(gap + 2), true);
    return head >= 0 && tail >= 0 && head + tail <= 7;
  }

  /**
   * The number of 16-bit groups in colon-separated {@code part} (an IPv4 suffix, allowed if {@code last}, counts as
   * two), 0 if empty, or -1 if malformed.
   */
  private static int groups(String part, boolean last) {
    if (part.isEmpty()) {
      return 0;
    }
    String[] fields = part.split(":", -1);
    int groups = 0;
    for (int i = 0; i < fields.length; i++) {
      String field = fields[i];
      if (last && i == fields.length - 1 && field.indexOf('.') >= 0) {
        if (!isIpv4(field)) {
          return -1;
        }
        groups += 2;
      } else if (field.isEmpty() || field.length() > 4 || !field.chars().allMatch(IpPort::isHexDigit)) {
        return -1;
      } else {
        groups++;
      }
    }
    return groups;
  }

  private static boolean isDigit(int c) {
    return c >= '0' && c <= '9';
  }

  private static boolean isHexDigit(int c) {
    return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  }
}
