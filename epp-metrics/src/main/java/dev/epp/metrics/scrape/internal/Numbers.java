package dev.epp.metrics.scrape.internal;

import java.nio.charset.StandardCharsets;

/** Allocation-free parsing of exposition-format numbers from bytes. Thread-safe (stateless). */
public final class Numbers {

  private static final double[] POWERS_OF_TEN = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
    1e20, 1e21, 1e22
  };

  private Numbers() {}

  /**
   * Parses a Go-style float ({@code 12}, {@code -0.5}, {@code 1.7e+09}, {@code NaN}, {@code +Inf}, {@code -Inf},
   * case-insensitive {@code inf}/{@code infinity}/{@code nan}) from {@code page[start, end)}.
   *
   * @return the value, or NaN if the token is not a number (see {@link #isNanToken})
   */
  public static double parseDouble(byte[] page, int start, int end) {
    if (start >= end) {
      return Double.NaN;
    }
    int p = start;
    boolean negative = false;
    if (page[p] == '+' || page[p] == '-') {
      negative = page[p] == '-';
      p++;
    }
    if (p == end) {
      return Double.NaN;
    }
    byte first = page[p];
    if (first == 'i' || first == 'I') {
      return isWord(page, p, end, "inf") || isWord(page, p, end, "infinity")
          ? (negative ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY)
          : Double.NaN;
    }
    // Fast path: at most 15 significant digits and a small decimal exponent are exact in a double.
    long mantissa = 0;
    int digits = 0;
    int scale = 0;
    boolean sawDigit = false;
    while (p < end && page[p] >= '0' && page[p] <= '9') {
      sawDigit = true;
      if (mantissa != 0 || page[p] != '0') {
        if (digits < 18) {
          mantissa = mantissa * 10 + (page[p] - '0');
        } else {
          scale++;
        }
        digits++;
      }
      p++;
    }
    if (p < end && page[p] == '.') {
      p++;
      while (p < end && page[p] >= '0' && page[p] <= '9') {
        sawDigit = true;
        if (mantissa != 0 || page[p] != '0') {
          if (digits < 18) {
            mantissa = mantissa * 10 + (page[p] - '0');
            scale--;
          }
          digits++;
        } else {
          scale--;
        }
        p++;
      }
    }
    if (!sawDigit) {
      return Double.NaN;
    }
    if (p < end && (page[p] == 'e' || page[p] == 'E')) {
      p++;
      boolean negativeExponent = false;
      if (p < end && (page[p] == '+' || page[p] == '-')) {
        negativeExponent = page[p] == '-';
        p++;
      }
      if (p == end) {
        return Double.NaN;
      }
      int exponent = 0;
      while (p < end && page[p] >= '0' && page[p] <= '9') {
        if (exponent < 100_000) {
          exponent = exponent * 10 + (page[p] - '0');
        }
        p++;
      }
      scale += negativeExponent ? -exponent : exponent;
    }
    if (p != end) {
      return Double.NaN;
    }
    double value;
    if (digits <= 15 && scale >= -22 && scale <= 22) {
      value = scale >= 0 ? mantissa * POWERS_OF_TEN[scale] : mantissa / POWERS_OF_TEN[-scale];
    } else {
      // Rare: long mantissas or large exponents; the token is a validated decimal, so this cannot throw.
      value = Math.abs(Double.parseDouble(new String(page, start, end - start, StandardCharsets.US_ASCII)));
    }
    return negative ? -value : value;
  }

  /** Whether {@code page[start, end)} spells NaN (case-insensitive, optionally signed). */
  public static boolean isNanToken(byte[] page, int start, int end) {
    if (start < end && (page[start] == '+' || page[start] == '-')) {
      start++;
    }
    return isWord(page, start, end, "nan");
  }

  private static boolean isWord(byte[] page, int start, int end, String lowerCase) {
    if (end - start != lowerCase.length()) {
      return false;
    }
    for (int i = 0; i < lowerCase.length(); i++) {
      if ((page[start + i] | 0x20) != lowerCase.charAt(i)) {
        return false;
      }
    }
    return true;
  }
}
