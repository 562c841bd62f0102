package dev.epp.examples.simulator;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * Command-line options of the form {@code --name value}, {@code --name=value} or a bare {@code --switch}, checked
 * against the names a command declares.
 */
final class Flags {

  private final Map<String, String> values = new HashMap<>();
  private final Set<String> switches = new HashSet<>();

  private Flags() {}

  /**
   * Parses {@code args}.
   *
   * @param valued names that take a value, without {@code --}
   * @param switchNames names that take none
   * @throws IllegalArgumentException naming the first unknown option, missing value or positional argument
   */
  static Flags parse(String[] args, Set<String> valued, Set<String> switchNames) {
    Flags flags = new Flags();
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      if (!arg.startsWith("--")) {
        throw new IllegalArgumentException("unexpected argument '" + arg + "'");
      }
      int equals = arg.indexOf('=');
      String name = arg.substring(2, equals < 0 ? arg.length() : equals);
      if (switchNames.contains(name) && equals < 0) {
        flags.switches.add(name);
      } else if (valued.contains(name)) {
        if (equals >= 0) {
          flags.values.put(name, arg.substring(equals + 1));
        } else if (i + 1 < args.length) {
          flags.values.put(name, args[++i]);
        } else {
          throw new IllegalArgumentException("option --" + name + " needs a value");
        }
      } else {
        throw new IllegalArgumentException("unknown option " + arg);
      }
    }
    return flags;
  }

  /** Whether {@code args} asks for help ({@code --help} or {@code -h} anywhere). */
  static boolean wantsHelp(String[] args) {
    for (String arg : args) {
      if (arg.equals("--help") || arg.equals("-h")) {
        return true;
      }
    }
    return false;
  }

  boolean has(String name) {
    return switches.contains(name) || values.containsKey(name);
  }

  String string(String name, String otherwise) {
    return values.getOrDefault(name, otherwise);
  }

  /** An integer option at least {@code min}. */
  int integer(String name, int otherwise, int min) {
    String value = values.get(name);
    if (value == null) {
      return otherwise;
    }
    try {
      int parsed = Integer.parseInt(value);
      if (parsed < min) {
        throw new IllegalArgumentException("option --" + name + " must be at least " + min + ", got " + value);
      }
      return parsed;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("option --" + name + " needs an integer, got '" + value + "'", e);
    }
  }

  long longValue(String name, long otherwise) {
    String value = values.get(name);
    try {
      return value == null ? otherwise : Long.parseLong(value);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("option --" + name + " needs an integer, got '" + value + "'", e);
    }
  }

  /** A finite number at least {@code min}. */
  double number(String name, double otherwise, double min) {
    String value = values.get(name);
    if (value == null) {
      return otherwise;
    }
    double parsed;
    try {
      parsed = Double.parseDouble(value);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("option --" + name + " needs a number, got '" + value + "'", e);
    }
    if (!Double.isFinite(parsed) || parsed < min) {
      throw new IllegalArgumentException("option --" + name + " must be a number at least " + min + ", got " + value);
    }
    return parsed;
  }
}
