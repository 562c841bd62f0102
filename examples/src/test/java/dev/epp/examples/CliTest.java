package dev.epp.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CliTest {

  private final Cli flags = new Cli("cmd [flags]", "Does things.");
  private final Cli.Flag<String> name = flags.string("name", "", "a name");
  private final Cli.Flag<Integer> port = flags.integer("port", 9002, 0, 65535, "a port");
  private final Cli.Flag<Boolean> secure = flags.bool("secure", true, "TLS");
  private final Cli.Flag<Boolean> verbose = flags.bool("verbose", false, "chatty");
  private final Cli.Flag<Duration> interval = flags.duration("interval", "50ms", "an interval");
  private final Cli.Flag<Path> file = flags.path("file", "a file");
  private final Cli.Flag<String> mode = flags.choice("mode", "a", List.of("a", "b"), "a mode");
  private final Cli.Flag<List<String>> tags = flags.list("tags", "tags");
  private final Cli.Flag<Long> seed = flags.int64("seed", 42, "a seed");
  private final Cli.Flag<Double> rate = flags.number("rate", 1.5, true, "a rate");
  private final Cli.Flag<Double> delay = flags.number("delay", 0, false, "a delay");
  private final Cli.Flag<String> text = flags.switches(List.of("echo", "random"), "random", "text mode");

  @Test
  void defaultsApplyWhenNothingIsGiven() throws Exception {
    assertTrue(flags.parse(new String[0]));
    assertEquals("", name.get());
    assertEquals(9002, port.get());
    assertTrue(secure.get());
    assertFalse(verbose.get());
    assertEquals(Duration.ofMillis(50), interval.get());
    assertNull(file.get());
    assertEquals("a", mode.get());
    assertFalse(port.isSet());
    assertEquals(List.of(), tags.get());
    assertEquals(42L, seed.get());
    assertEquals(1.5, rate.get());
    assertEquals(0.0, delay.get());
    assertEquals("random", text.get());
    assertFalse(text.isSet());
  }

  @Test
  void listsNumbersAndSwitchGroupsParse() throws Exception {
    flags.parse(new String[] {"--tags", " a, ,b ", "--seed=-7", "--rate", "0.25", "--delay=0", "--echo"});
    assertEquals(List.of("a", "b"), tags.get());
    assertEquals(-7L, seed.get());
    assertEquals(0.25, rate.get());
    assertEquals(0.0, delay.get());
    assertEquals("echo", text.get());
    assertTrue(text.isSet());
  }

  @Test
  void aSwitchOfAGroupMayBeRepeated() throws Exception {
    flags.parse(new String[] {"--random", "--random"});
    assertEquals("random", text.get());
  }

  @Test
  void valuesMayFollowAnEqualsSignOrComeAsTheNextArgument() throws Exception {
    flags.parse(new String[] {"--port=0", "--interval", "1.5s", "--name", "---", "--file=/tmp/x", "--mode", "b"});
    assertEquals(0, port.get());
    assertTrue(port.isSet());
    assertEquals(Duration.ofMillis(1500), interval.get());
    assertEquals("---", name.get()); // a value may start with dashes unless it is a flag
    assertEquals(Path.of("/tmp/x"), file.get());
    assertEquals("b", mode.get());
  }

  @Test
  void booleansAreSetByNameOrWithAnExplicitValue() throws Exception {
    flags.parse(new String[] {"--verbose", "--secure=false"});
    assertTrue(verbose.get());
    assertFalse(secure.get());
  }

  @Test
  void aBooleanGivenByNameIsTrueEvenWhenItsDefaultIsTrue() throws Exception {
    flags.parse(new String[] {"--secure"});
    assertTrue(secure.get());
    assertTrue(secure.isSet());
  }

  @Test
  void doubleDashIsAValueNotAnEndOfFlagsMarker() throws Exception {
    flags.parse(new String[] {"--name", "--"});
    assertEquals("--", name.get());
    assertError("unexpected argument '--'", "--", "--port=1");
  }

  @Test
  void argumentsAreTakenLiterally(@TempDir Path dir) throws Exception {
    Path file = Files.writeString(dir.resolve("args"), "--port=1");
    assertError("unexpected argument '@" + file + "'", "@" + file); // not expanded from the file
    assertError("unexpected argument '-hx'", "-hx"); // a single dash starts no flag
    assertError("unexpected argument 'extra'", "extra", "--port=x"); // the first problem is reported
  }

  @Test
  void theLastOfARepeatedFlagWins() throws Exception {
    flags.parse(new String[] {"--port", "1", "--port=2"});
    assertEquals(2, port.get());
  }

  @Test
  void helpStopsParsingBeforeOtherFlagsAreChecked() throws Exception {
    assertFalse(flags.parse(new String[] {"--nope", "--help"}));
    assertFalse(flags.parse(new String[] {"-h"}));
  }

  @Test
  void errorsNameTheFlagOrArgumentInOneLine() {
    assertError("unknown flag --nope", "--nope=1");
    assertError("invalid value \"x\" for --port: not an integer", "--port", "x");
    assertError("invalid value \"70000\" for --port: not in 0..65535", "--port=70000");
    assertError("invalid value \"yes\" for --secure: expected true or false", "--secure=yes");
    assertError("invalid value \"-1s\" for --interval: must be positive", "--interval=-1s");
    assertError("invalid value \"5\" for --interval: missing unit in duration \"5\"", "--interval=5");
    assertError("invalid value \"c\" for --mode: expected one of a, b", "--mode=c");
    assertError("flag --port needs a value", "--port");
    assertError("flag --name needs a value", "--name", "--port=1");
    assertError("unexpected argument 'false' (booleans are written --flag=false)", "--secure", "false");
    assertError("unexpected argument 'extra'", "extra");
    assertError("invalid value \"x\" for --seed: not an integer", "--seed=x");
    assertError("invalid value \"fast\" for --rate: not a number", "--rate", "fast");
    assertError("invalid value \"NaN\" for --rate: not a number", "--rate=NaN");
    assertError("invalid value \"0\" for --rate: must be positive", "--rate=0");
    assertError("invalid value \"-1\" for --delay: must not be negative", "--delay=-1");
    assertError("--echo and --random exclude each other", "--echo", "--random");
    assertError("flag --echo takes no value", "--echo=true");
  }

  @Test
  void aSwitchGroupIsListedOnce() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    flags.printHelp(new PrintStream(bytes, true, StandardCharsets.UTF_8));
    assertEquals(1, bytes.toString(StandardCharsets.UTF_8).lines().filter(l -> l.contains("--echo")).count());
  }

  @Test
  void helpIsLaidOutInColumns() {
    Cli cli = new Cli("cmd [flags]", "Does things.");
    cli.integer("port", 9002, 0, 65535, "a port");
    cli.bool("verbose", false, "chatty");
    cli.path("file", "a file");
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    cli.printHelp(new PrintStream(bytes, true, StandardCharsets.UTF_8));
    assertEquals(List.of("usage: cmd [flags]", "", "Does things.", "", "flags:",
        "  --port int   a port (default 9002)",
        "  --verbose    chatty (default false)",
        "  --file path  a file",
        "  -h, --help   show this help"), bytes.toString(StandardCharsets.UTF_8).lines().toList());
  }

  @Test
  void helpListsEveryFlagWithItsDefault() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    flags.printHelp(new PrintStream(bytes, true, StandardCharsets.UTF_8));
    List<String> lines = bytes.toString(StandardCharsets.UTF_8).lines().toList();
    assertEquals("usage: cmd [flags]", lines.get(0));
    String text = String.join("\n", lines);
    for (String row : List.of(
        "--name string +a name \\(default \"\"\\)",
        "--port int +a port \\(default 9002\\)",
        "--secure +TLS \\(default true\\)",
        "--verbose +chatty \\(default false\\)",
        "--interval duration +an interval \\(default 50ms\\)",
        "--file path +a file",
        "--mode a\\|b +a mode \\(default a\\)",
        "--tags a,b,\\.\\.\\. +tags \\(default \"\"\\)",
        "--seed int64 +a seed \\(default 42\\)",
        "--rate float +a rate \\(default 1\\.5\\)",
        "--echo\\|--random +text mode \\(default random\\)",
        "-h, --help +show this help")) {
      assertTrue(lines.stream().anyMatch(line -> line.matches("  " + row)), row + " in\n" + text);
    }
  }

  private void assertError(String message, String... args) {
    Cli.UsageException e = assertThrows(Cli.UsageException.class, () -> flags.parse(args));
    assertEquals(message, e.getMessage());
  }
}
