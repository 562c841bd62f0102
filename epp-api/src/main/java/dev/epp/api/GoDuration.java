package dev.epp.api;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.Duration;

/**
 * Go duration strings ({@code time.ParseDuration}), the syntax of the Go EPP's duration parameters and flags, such as
 * {@code 50ms}, {@code 1.5s} or {@code 1h30m}.
 */
public final class GoDuration {

  private GoDuration() {}

  /**
   * Parses {@code text}.
   *
   * @throws IllegalArgumentException if {@code text} is not a Go duration or does not fit in a {@code long} of
   *     nanoseconds
   */
  public static Duration parse(String text) {
    return Duration.ofNanos(parseNanos(text));
  }

  /**
   * The nanoseconds in {@code text}: an optional sign, then {@code 0} or a sequence of decimal numbers (with optional
   * fraction) each followed by a unit {@code ns}, {@code us} ({@code µs}), {@code ms}, {@code s}, {@code m} or
   * {@code h}, such as {@code 200ms}, {@code 1.5s} or {@code 1h30m}. Fractions of a nanosecond are truncated.
   *
   * @throws IllegalArgumentException if {@code text} is not a Go duration or does not fit in a {@code long}
   */
  private static long parseNanos(String text) {
    int i = 0;
    int length = text.length();
    boolean negative = false;
    if (i < length && (text.charAt(i) == '-' || text.charAt(i) == '+')) {
      negative = text.charAt(i) == '-';
      i++;
    }
    if (text.substring(i).equals("0")) {
      return 0;
    }
    if (i == length) {
      throw new IllegalArgumentException("invalid duration \"" + text + "\"");
    }
    BigDecimal total = BigDecimal.ZERO;
    while (i < length) {
      int numberStart = i;
      while (i < length && isNumberChar(text.charAt(i))) {
        i++;
      }
      String number = text.substring(numberStart, i);
      if (number.isEmpty() || number.equals(".") || number.indexOf('.') != number.lastIndexOf('.')) {
        throw new IllegalArgumentException("invalid duration \"" + text + "\"");
      }
      int unitStart = i;
      while (i < length && !isNumberChar(text.charAt(i))) {
        i++;
      }
      String unit = text.substring(unitStart, i);
      if (unit.isEmpty()) {
        throw new IllegalArgumentException("missing unit in duration \"" + text + "\"");
      }
      total = total.add(new BigDecimal(number).multiply(BigDecimal.valueOf(unitNanos(unit, text))));
    }
    BigInteger nanos = total.toBigInteger();
    if (nanos.bitLength() > 63) {
      throw new IllegalArgumentException("invalid duration \"" + text + "\": out of range");
    }
    return negative ? -nanos.longValue() : nanos.longValue();
  }

  private static boolean isNumberChar(char c) {
    return (c >= '0' && c <= '9') || c == '.';
  }

  private static long unitNanos(String unit, String text) {
    switch (unit) {
      case "ns":
        return 1L;
      case "us":
      case "\u00b5s": // micro sign
      case "\u03bcs": // Greek small letter mu
        return 1_000L;
      case "ms":
        return 1_000_000L;
      case "s":
        return 1_000_000_000L;
      case "m":
        return 60_000_000_000L;
      case "h":
        return 3_600_000_000_000L;
      default:
        throw new IllegalArgumentException("unknown unit \"" + unit + "\" in duration \"" + text + "\"");
    }
  }
}
