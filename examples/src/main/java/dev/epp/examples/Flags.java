package dev.epp.examples;

import dev.epp.api.GoDuration;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * A command's flags, parsed as the Go EPP's {@code pflag} does: {@code --name=value} or {@code --name value};
 * booleans as {@code --name} (true) or {@code --name=true|false}; a repeated flag keeps its last value. Durations use
 * Go's syntax ({@code 50ms}, {@code 1.5s}). {@code --help} and {@code -h} ask for {@link #printHelp help}.
 *
 * <p>Define every flag, then {@link #parse} once, then read the values. Not thread-safe. Public (with the members
 * the {@code simulator} package's commands use) so that every command of the examples parses its flags here.
 */
public final class Flags {

  /** A command line that cannot be used; the message is one line naming the flag or argument. */
  public static final class UsageException extends Exception {
    private static final long serialVersionUID = 1L;

    UsageException(String message) {
      super(message);
    }
  }

  /** One flag: its definition and, after parsing, its value. */
  public static final class Flag<T> {
    private final String name; // a switch group's names joined by "|--"
    private final List<String> switches; // a switch group's names, else empty
    private final String valueName;
    private final String defaultText; // null: no default
    private final Function<String, T> parser;
    private final String help;
    private T value;
    private boolean set;

    /** A flag whose default is {@code defaultText} parsed, or {@code null} when {@code defaultText} is null. */
    private Flag(String name, String valueName, String defaultText, Function<String, T> parser, String help) {
      this(name, List.of(), valueName, defaultText, parser, help);
    }

    private Flag(String name, List<String> switches, String valueName, String defaultText,
        Function<String, T> parser, String help) {
      this.name = name;
      this.switches = switches;
      this.valueName = valueName;
      this.defaultText = defaultText;
      this.parser = parser;
      this.help = help;
      this.value = defaultText == null ? null : parser.apply(defaultText);
    }

    /** The value given, else the default; {@code null} for a flag without default that was not given. */
    public T get() {
      return value;
    }

    /** Whether the command line gave this flag. */
    public boolean isSet() {
      return set;
    }

    /** {@code --name}. */
    String option() {
      return "--" + name;
    }

    private void set(String text) throws UsageException {
      try {
        value = parser.apply(text);
      } catch (IllegalArgumentException e) {
        throw new UsageException("invalid value \"" + text + "\" for " + option() + ": " + e.getMessage());
      }
      set = true;
    }
  }

  private final String usage;
  private final String description;
  private final Map<String, Flag<?>> flags = new LinkedHashMap<>();

  /**
   * @param usage the first line of the help, e.g. {@code java -jar epp-examples.jar server [flags]}
   * @param description what the command does, printed under the usage line
   */
  public Flags(String usage, String description) {
    this.usage = usage;
    this.description = description;
  }

  /** A string flag. */
  public Flag<String> string(String name, String defaultValue, String help) {
    return add(new Flag<>(name, "string", defaultValue, s -> s, help));
  }

  /** A string flag whose value must be one of {@code values}. */
  Flag<String> choice(String name, String defaultValue, List<String> values, String help) {
    return add(new Flag<>(name, String.join("|", values), defaultValue, s -> {
      if (!values.contains(s)) {
        throw new IllegalArgumentException("expected one of " + String.join(", ", values));
      }
      return s;
    }, help));
  }

  /** A file or directory flag without default. */
  Flag<Path> path(String name, String help) {
    return add(new Flag<>(name, "path", null, s -> {
      if (s.isEmpty()) {
        throw new IllegalArgumentException("empty path");
      }
      return Path.of(s);
    }, help));
  }

  /** A comma-separated list of strings, each stripped, empty entries dropped; empty by default. */
  public Flag<List<String>> list(String name, String help) {
    return add(new Flag<>(name, "a,b,...", "",
        s -> Arrays.stream(s.split(",")).map(String::strip).filter(e -> !e.isEmpty()).toList(), help));
  }

  /** An integer flag accepting {@code min..max}. */
  public Flag<Integer> integer(String name, int defaultValue, int min, int max, String help) {
    return add(new Flag<>(name, "int", Integer.toString(defaultValue), s -> {
      int value;
      try {
        value = Integer.parseInt(s);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("not an integer");
      }
      if (value < min || value > max) {
        throw new IllegalArgumentException("not in " + min + ".." + max);
      }
      return value;
    }, help));
  }

  /** A 64-bit integer flag accepting any value. */
  public Flag<Long> int64(String name, long defaultValue, String help) {
    return add(new Flag<>(name, "int64", Long.toString(defaultValue), s -> {
      try {
        return Long.parseLong(s);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("not an integer");
      }
    }, help));
  }

  /** A finite decimal number flag, greater than 0 if {@code positive}, else at least 0. */
  public Flag<Double> number(String name, double defaultValue, boolean positive, String help) {
    return add(new Flag<>(name, "float", Double.toString(defaultValue), s -> {
      double value;
      try {
        value = Double.parseDouble(s);
      } catch (NumberFormatException e) {
        value = Double.NaN;
      }
      if (!Double.isFinite(value)) {
        throw new IllegalArgumentException("not a number");
      }
      if (positive ? value <= 0 : value < 0) {
        throw new IllegalArgumentException(positive ? "must be positive" : "must not be negative");
      }
      return value;
    }, help));
  }

  /**
   * A group of switches of which the command line gives at most one, such as {@code --echo|--random-text}, each
   * written without a value; the flag's value is the name of the switch given, else {@code defaultName}.
   */
  public Flag<String> switches(List<String> names, String defaultName, String help) {
    if (!names.contains(defaultName)) {
      throw new IllegalArgumentException("default " + defaultName + " is not one of " + names);
    }
    Flag<String> group = new Flag<>(String.join("|--", names), List.copyOf(names), "", defaultName, s -> s, help);
    for (String name : names) {
      add(name, group);
    }
    return group;
  }

  /** A boolean flag. */
  Flag<Boolean> bool(String name, boolean defaultValue, String help) {
    return add(new Flag<>(name, "", Boolean.toString(defaultValue), s -> switch (s) {
      case "true" -> true;
      case "false" -> false;
      default -> throw new IllegalArgumentException("expected true or false");
    }, help));
  }

  /** A positive Go duration flag, such as {@code 50ms}. */
  Flag<Duration> duration(String name, String defaultValue, String help) {
    return add(new Flag<>(name, "duration", defaultValue, s -> {
      Duration d = GoDuration.parse(s);
      if (d.isNegative() || d.isZero()) {
        throw new IllegalArgumentException("must be positive");
      }
      return d;
    }, help));
  }

  /**
   * Sets the flags from {@code args}.
   *
   * @return {@code false} if help was asked for (the other flags are then not checked), else {@code true}
   * @throws UsageException for an unknown flag, a missing or invalid value, or a positional argument
   */
  public boolean parse(String[] args) throws UsageException {
    for (String arg : args) {
      if (arg.equals("--help") || arg.equals("-h")) {
        return false;
      }
    }
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      if (!arg.startsWith("--") || arg.length() == 2) {
        String hint = arg.equals("true") || arg.equals("false") ? " (booleans are written --flag=" + arg + ")" : "";
        throw new UsageException("unexpected argument '" + arg + "'" + hint);
      }
      int eq = arg.indexOf('=');
      String name = eq < 0 ? arg.substring(2) : arg.substring(2, eq);
      Flag<?> flag = flags.get(name);
      if (flag == null) {
        throw new UsageException("unknown flag --" + name);
      }
      if (!flag.switches.isEmpty()) {
        if (eq >= 0) {
          throw new UsageException("flag --" + name + " takes no value");
        }
        if (flag.isSet() && !flag.get().equals(name)) {
          throw new UsageException("--" + flag.get() + " and --" + name + " exclude each other");
        }
        flag.set(name);
      } else if (eq >= 0) {
        flag.set(arg.substring(eq + 1));
      } else if (flag.valueName.isEmpty()) {
        flag.set("true");
      } else if (i + 1 < args.length && !isFlag(args[i + 1])) {
        flag.set(args[++i]);
      } else {
        throw new UsageException("flag " + flag.option() + " needs a value");
      }
    }
    return true;
  }

  /** Prints the usage line, the description and every flag with its default. */
  public void printHelp(PrintStream out) {
    out.println("usage: " + usage);
    out.println();
    out.println(description);
    out.println();
    out.println("flags:");
    Set<Flag<?>> distinct = new LinkedHashSet<>(flags.values()); // a switch group once
    int width = 0;
    for (Flag<?> flag : distinct) {
      width = Math.max(width, left(flag).length());
    }
    for (Flag<?> flag : distinct) {
      String shown = flag.defaultText == null ? ""
          : " (default " + (flag.defaultText.isEmpty() ? "\"\"" : flag.defaultText) + ")";
      out.printf("  %-" + width + "s  %s%s%n", left(flag), flag.help, shown);
    }
    out.printf("  %-" + width + "s  %s%n", "-h, --help", "show this help");
  }

  /** Whether {@code arg} is one of the defined flags, so not the value of the flag before it. */
  private boolean isFlag(String arg) {
    if (!arg.startsWith("--")) {
      return false;
    }
    int eq = arg.indexOf('=');
    return flags.containsKey(eq < 0 ? arg.substring(2) : arg.substring(2, eq));
  }

  private static String left(Flag<?> flag) {
    return flag.valueName.isEmpty() ? flag.option() : flag.option() + " " + flag.valueName;
  }

  private <T> Flag<T> add(Flag<T> flag) {
    return add(flag.name, flag);
  }

  private <T> Flag<T> add(String name, Flag<T> flag) {
    if (flags.putIfAbsent(name, flag) != null) {
      throw new IllegalArgumentException("flag --" + name + " defined twice");
    }
    return flag;
  }
}
