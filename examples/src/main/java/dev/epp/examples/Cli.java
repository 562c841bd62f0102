package dev.epp.examples;

import dev.epp.api.GoDuration;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import picocli.CommandLine;
import picocli.CommandLine.IHelpSectionRenderer;
import picocli.CommandLine.MaxValuesExceededException;
import picocli.CommandLine.MissingParameterException;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.ISetter;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.UsageMessageSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * A command's flags as picocli options, parsed as the Go EPP's {@code pflag} does: {@code --name=value} or
 * {@code --name value}; booleans as {@code --name} (true) or {@code --name=true|false}; a repeated flag keeps its last
 * value. Durations use Go's syntax ({@code 50ms}, {@code 1.5s}). {@code --help} and {@code -h} ask for
 * {@link #printHelp help}.
 *
 * <p>Define every flag, then {@link #parse} once, then read the values. Not thread-safe. Public (with the members
 * the {@code simulator} package's commands use) so that every command of the examples parses its flags here.
 */
public final class Cli {

  /** A command line that cannot be used; the message is one line naming the flag or argument. */
  public static final class UsageException extends Exception {
    private static final long serialVersionUID = 1L;

    UsageException(String message) {
      super(message);
    }
  }

  /** One flag (or group of switches): its help row and, after parsing, its value. */
  public static final class Flag<T> {
    private final String label; // the help's left column
    private final String help;
    private final String defaultText; // null: no default
    private final OptionSpec option; // null for a switch group, which tracks its value itself
    private T value;
    private boolean set;

    private Flag(String label, String help, String defaultText, OptionSpec option) {
      this.label = label;
      this.help = help;
      this.defaultText = defaultText;
      this.option = option;
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
      String[] words = label.split(" ");
      for (String word : words) {
        if (word.startsWith("--")) {
          return word.replace(",", "");
        }
      }
      return words[0];
    }

    @SuppressWarnings("unchecked")
    private void read(ParseResult result) {
      value = (T) option.getValue();
      set = result.hasMatchedOption(option);
    }
  }

  private final CommandLine commandLine;
  private final List<Flag<?>> flags = new ArrayList<>();

  /**
   * @param usage the first line of the help, e.g. {@code java -jar epp-examples.jar server [flags]}
   * @param description what the command does, printed under the usage line
   */
  public Cli(String usage, String description) {
    CommandSpec spec = CommandSpec.create();
    spec.parser()
        .overwrittenOptionsAllowed(true) // the last of a repeated flag wins
        .stopAtUnmatched(true) // report the first unexpected argument
        .expandAtFiles(false) // an argument @file is not read from the file
        .endOfOptionsDelimiter("\0"); // no argument holds a NUL: "--" is an argument, not the end of the flags
    String nl = System.lineSeparator();
    Map<String, IHelpSectionRenderer> sections = new LinkedHashMap<>();
    sections.put(UsageMessageSpec.SECTION_KEY_SYNOPSIS, help -> "usage: " + usage + nl + nl);
    sections.put(UsageMessageSpec.SECTION_KEY_DESCRIPTION, help -> description + nl + nl);
    sections.put(UsageMessageSpec.SECTION_KEY_OPTION_LIST, help -> flagList(nl));
    spec.usageMessage().sectionKeys(List.copyOf(sections.keySet())).sectionMap(sections);
    commandLine = new CommandLine(spec);
  }

  /** A string flag. */
  public Flag<String> string(String name, String defaultValue, String help) {
    return add(name, "string", defaultValue, String.class, s -> s, help);
  }

  /** A string flag whose value must be one of {@code values}. */
  public Flag<String> choice(String name, String defaultValue, List<String> values, String help) {
    return add(name, String.join("|", values), defaultValue, String.class, s -> {
      if (!values.contains(s)) {
        throw new IllegalArgumentException("expected one of " + String.join(", ", values));
      }
      return s;
    }, help);
  }

  /** A file or directory flag without default. */
  Flag<Path> path(String name, String help) {
    return add(name, "path", null, Path.class, s -> {
      if (s.isEmpty()) {
        throw new IllegalArgumentException("empty path");
      }
      return Path.of(s);
    }, help);
  }

  /** A comma-separated list of strings, each stripped, empty entries dropped; empty by default. */
  public Flag<List<String>> list(String name, String help) {
    // typed Object for picocli: a List type would make it a repeatable multi-value option
    return add(name, "a,b,...", "", Object.class,
        s -> Arrays.stream(s.split(",")).map(String::strip).filter(e -> !e.isEmpty()).toList(), help);
  }

  /** An integer flag accepting {@code min..max}. */
  public Flag<Integer> integer(String name, int defaultValue, int min, int max, String help) {
    return add(name, "int", Integer.toString(defaultValue), Integer.class, integerParser(min, max), help);
  }

  private static Function<String, Integer> integerParser(int min, int max) {
    return s -> {
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
    };
  }

  /** An integer flag accepting {@code min..max} that is also written {@code -shortName}, as Go's {@code -v}. */
  public Flag<Integer> integer(String name, char shortName, int defaultValue, int min, int max, String help) {
    return add(List.of("--" + name, "-" + shortName), "int", Integer.toString(defaultValue), Integer.class,
        integerParser(min, max), help);
  }

  /** A 64-bit integer flag accepting any value. */
  public Flag<Long> int64(String name, long defaultValue, String help) {
    return add(name, "int64", Long.toString(defaultValue), Long.class, s -> {
      try {
        return Long.parseLong(s);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("not an integer");
      }
    }, help);
  }

  /** A finite decimal number flag, greater than 0 if {@code positive}, else at least 0. */
  public Flag<Double> number(String name, double defaultValue, boolean positive, String help) {
    return add(name, "float", Double.toString(defaultValue), Double.class, s -> {
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
    }, help);
  }

  /**
   * A boolean flag: {@code --name} sets it (whatever its default), {@code --name=false} clears it; a separate
   * {@code true} or {@code false} is not its value but an unexpected argument.
   */
  public Flag<Boolean> bool(String name, boolean defaultValue, String help) {
    return add(name, "", Boolean.toString(defaultValue), boolean.class, s -> switch (s) {
      case "true" -> true;
      case "false" -> false;
      default -> throw new IllegalArgumentException("expected true or false");
    }, help);
  }

  /** A positive Go duration flag, such as {@code 50ms}. */
  public Flag<Duration> duration(String name, String defaultValue, String help) {
    return add(name, "duration", defaultValue, Duration.class, s -> {
      Duration d = GoDuration.parse(s);
      if (d.isNegative() || d.isZero()) {
        throw new IllegalArgumentException("must be positive");
      }
      return d;
    }, help);
  }

  /**
   * A group of switches of which the command line gives at most one, such as {@code --echo|--random-text}, each
   * written without a value; the flag's value is the name of the switch given, else {@code defaultName}.
   */
  public Flag<String> switches(List<String> names, String defaultName, String help) {
    if (!names.contains(defaultName)) {
      throw new IllegalArgumentException("default " + defaultName + " is not one of " + names);
    }
    Flag<String> group = new Flag<>("--" + String.join("|--", names), help, defaultName, null);
    group.value = defaultName;
    for (String name : names) {
      commandLine.getCommandSpec().addOption(OptionSpec.builder("--" + name).arity("0").type(boolean.class)
          .setter(new ISetter() {
            @Override
            public <V> V set(V given) {
              if (Boolean.TRUE.equals(given)) {
                if (group.set && !group.value.equals(name)) {
                  throw new ParameterException(commandLine,
                      "--" + group.value + " and --" + name + " exclude each other");
                }
                group.value = name;
                group.set = true;
              }
              return null;
            }
          }).build());
    }
    flags.add(group);
    return group;
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
    ParseResult result;
    try {
      result = commandLine.parseArgs(args);
    } catch (ParameterException e) {
      throw new UsageException(message(e, args));
    }
    for (Flag<?> flag : flags) {
      if (flag.option != null) {
        flag.read(result);
      }
    }
    return true;
  }

  /** Prints the usage line, the description and every flag with its default. */
  public void printHelp(PrintStream out) {
    commandLine.usage(out);
  }

  /** Today's one-line message for each of picocli's parameter exceptions. */
  private String message(ParameterException e, String[] args) {
    if (e instanceof UnmatchedArgumentException unmatched) {
      String arg = unmatched.getUnmatched().get(0);
      if (arg.startsWith("--") && arg.length() > 2) {
        return "unknown flag " + arg.split("=", 2)[0];
      }
      String hint = arg.equals("true") || arg.equals("false") ? " (booleans are written --flag=" + arg + ")" : "";
      return "unexpected argument '" + arg + "'" + hint;
    }
    if (e instanceof MissingParameterException missing) {
      return "flag " + ((OptionSpec) missing.getMissing().get(0)).longestName() + " needs a value";
    }
    if (e instanceof MaxValuesExceededException) { // only a switch takes no value: name the first given one
      for (String arg : args) {
        OptionSpec option = commandLine.getCommandSpec().findOption(arg.split("=", 2)[0]);
        if (arg.contains("=") && option != null && option.arity().max() == 0) {
          return "flag " + option.longestName() + " takes no value";
        }
      }
    }
    if (e.getArgSpec() instanceof OptionSpec option && e.getCause() != null) {
      return "invalid value \"" + e.getValue() + "\" for " + option.longestName() + ": " + e.getCause().getMessage();
    }
    return e.getMessage();
  }

  private String flagList(String nl) {
    int width = 0;
    for (Flag<?> flag : flags) {
      width = Math.max(width, flag.label.length());
    }
    StringBuilder list = new StringBuilder("flags:").append(nl);
    for (Flag<?> flag : flags) {
      String shown = flag.defaultText == null ? ""
          : " (default " + (flag.defaultText.isEmpty() ? "\"\"" : flag.defaultText) + ")";
      list.append(String.format("  %-" + width + "s  %s%s%n", flag.label, flag.help, shown));
    }
    return list.append(String.format("  %-" + width + "s  %s%n", "-h, --help", "show this help")).toString();
  }

  private <T> Flag<T> add(String name, String valueName, String defaultText, Class<?> type, Function<String, T> parser,
      String help) {
    return add(List.of("--" + name), valueName, defaultText, type, parser, help);
  }

  /** A flag written as any of {@code names}, the first shown last in the help ({@code -v, --v int}). */
  private <T> Flag<T> add(List<String> names, String valueName, String defaultText, Class<?> type,
      Function<String, T> parser, String help) {
    OptionSpec.Builder builder = OptionSpec.builder(names.toArray(new String[0])).type(type).defaultValue(defaultText)
        .converters(s -> parser.apply(s));
    if (type == boolean.class) {
      // picocli's arity for booleans: a value only when attached with '='; the fallback makes --name true even when
      // the default is true (picocli would negate the default)
      builder.fallbackValue("true");
    }
    OptionSpec option = builder.build();
    List<String> shown = new ArrayList<>(names.subList(1, names.size()));
    shown.add(names.get(0));
    String label = String.join(", ", shown);
    Flag<T> flag = new Flag<>(valueName.isEmpty() ? label : label + " " + valueName, help, defaultText, option);
    flag.value = defaultText == null ? null : parser.apply(defaultText);
    commandLine.getCommandSpec().addOption(option);
    flags.add(flag);
    return flag;
  }
}
